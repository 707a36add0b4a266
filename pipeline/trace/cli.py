"""``python -m pipeline trace check | review | site``: the traceability commands.

``check`` prints one line per problem and exits 1 when any gate fails, the signed approvals of
the release (``release verify``) and the SOUP vulnerability audit's age and evaluations included. ``review`` records the
current fingerprints of an item's links (clearing suspect links). ``site`` renders the static
site and never fails because a gate fails: the site shows the problems and the release status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.errors import UserError

EXIT_GATES_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``trace`` command and its sub-commands (each also takes the inputs' options)."""
    parser = sub.add_parser("trace", help="traceability: check gates, review links, build site")
    tsub = parser.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    actions = (("check", "run the release gates; non-zero exit on any problem", main_check, _no_options),
               ("review", "mark the links of items or stages as reviewed", main_review, _review_options),
               ("site", "render the static traceability site", main_site, _site_options))
    for name, text, func, options in actions:
        action = tsub.add_parser(name, help=text)
        options(action)
        _inputs(action)
        action.set_defaults(func=func)


def _no_options(parser: argparse.ArgumentParser) -> None:
    """``check`` reads only the inputs."""


def _review_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="item IDs or stage names")
    parser.add_argument("--all", action="store_true", help="review every item (baseline a new project; use with care)")


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output folder (replaced atomically)")
    parser.add_argument("--metrics", default=None, help="also write the gate summary as JSON here")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def main_check(args: argparse.Namespace) -> int:
    """Print every problem, one per line; exit 1 if there is any."""
    from pipeline.trace.gates import check
    from pipeline.trace.signoff import approval_problems, soup_audit_problems
    from pipeline.trace.graph import build_trace

    trace = build_trace(_paths(args))
    problems = check(trace, as_of=args.as_of)
    if args.as_of is None:  # inside dvc repro the release is not rendered yet, so not approved
        problems += soup_audit_problems(trace) + approval_problems(trace)
    for problem in problems:
        print(problem.line())
    if problems:
        print(f"trace check: {len(problems)} problem(s); not releasable", file=sys.stderr)
        return EXIT_GATES_FAILED
    print("trace check: all gates pass; releasable")
    return 0


def main_review(args: argparse.Namespace) -> int:
    """Record current fingerprints for the given items (or all with ``--all``)."""
    from pipeline.trace.graph import build_trace
    from pipeline.trace.review import review

    if not args.ids and not args.all:
        raise UserError("trace review: name the item IDs or stage names to review, or --all")
    paths = _paths(args)
    done = review(build_trace(paths), args.ids, everything=args.all)
    print(f"trace review: recorded {len(done)} item(s) in {paths.reviews}: {', '.join(done)}")
    return 0


def main_site(args: argparse.Namespace) -> int:
    """Render the site (and the gate summary); report the release status.

    The MLflow run writer starts first, so that importing MLflow and opening its store happen
    beside the rendering (``pipeline.core.tracking``); the run itself is opened after it, with the
    counts, as before."""
    import contextlib

    from pipeline.trace.gates import check
    from pipeline.trace.graph import build_trace
    from pipeline.trace.site import summary, write_site

    if args.no_mlflow:
        writing = contextlib.nullcontext()
    else:
        from pipeline.core.tracking import start_writer

        writing = start_writer(Path(args.root))
    with writing as writer:
        trace = build_trace(_paths(args))
        problems = check(trace, as_of=args.as_of)
        write_site(trace, problems, Path(args.out))
        result = summary(trace, problems)
        if args.metrics:
            from pipeline.core.records import write_record
            from pipeline.trace.record import TraceSummary

            write_record(Path(args.metrics), result, TraceSummary, "gate summary")
        if writer is not None:
            from pipeline.core.tracking import stage_run

            from pipeline.trace.stages import upstream_outputs

            inputs = upstream_outputs(trace.stages, args.as_of)
            with stage_run("trace", inputs=inputs, root=Path(args.root), writer=writer) as mlflow:
                mlflow.log_metrics({k: v for k, v in result["counts"].items()})
                mlflow.set_tag("release_status", result["release_status"])
    print(f"trace site: {args.out} ({result['release_status']}, {len(problems)} problem(s))")
    return 0


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="repository root")
    parser.add_argument("--junit", default=None, help="pytest junit report (default: paths.junit of params.yaml)")
    parser.add_argument("--vnv", default=None, help="verify stage results (default: paths.vnv_metrics)")
    parser.add_argument("--as-of", default=None, metavar="STAGE",
                        help="the DVC stage running this command: it and later stages are not "
                             "expected in dvc.lock yet")


def _paths(args: argparse.Namespace):
    from dataclasses import replace

    from pipeline.params import load_paths, params_file
    from pipeline.trace.graph import TracePaths

    paths = TracePaths.of(Path(args.root), load_paths(params_file(args)))
    overrides = {k: v for k, v in (("junit", args.junit), ("vnv", args.vnv)) if v}
    return replace(paths, **overrides)
