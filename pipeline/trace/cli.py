"""``python -m pipeline trace check | review | site``: the traceability commands.

``check`` prints one line per problem and exits 1 when any gate fails, the signed approvals of
the release included (``release verify``). ``review`` records the
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
    """Add the ``trace`` command and its sub-commands."""
    parser = sub.add_parser("trace", help="traceability: check gates, review links, build site")
    tsub = parser.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    check = tsub.add_parser("check", help="run the release gates; non-zero exit on any problem")
    _inputs(check)
    check.set_defaults(func=main_check)
    review = tsub.add_parser("review", help="mark the links of items or stages as reviewed")
    review.add_argument("ids", nargs="*", metavar="ID", help="item IDs or stage names")
    review.add_argument("--all", action="store_true",
                        help="review every item (baseline a new project; use with care)")
    _inputs(review)
    review.set_defaults(func=main_review)
    site = tsub.add_parser("site", help="render the static traceability site")
    site.add_argument("out", help="output folder (replaced atomically)")
    site.add_argument("--metrics", default=None, help="also write the gate summary as JSON here")
    site.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    _inputs(site)
    site.set_defaults(func=main_site)


def main_check(args: argparse.Namespace) -> int:
    """Print every problem, one per line; exit 1 if there is any."""
    from pipeline.trace.gates import approval_problems, check
    from pipeline.trace.graph import build_trace

    trace = build_trace(_paths(args))
    problems = check(trace, as_of=args.as_of)
    if args.as_of is None:  # inside dvc repro the release is not rendered yet, so not approved
        problems += approval_problems(trace)
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
    """Render the site (and the gate summary); report the release status."""
    from pipeline.trace.gates import check
    from pipeline.trace.graph import build_trace
    from pipeline.trace.site import summary, write_site

    trace = build_trace(_paths(args))
    problems = check(trace, as_of=args.as_of)
    write_site(trace, problems, Path(args.out))
    result = summary(trace, problems)
    if args.metrics:
        from pipeline.core.atomic import write_json

        write_json(Path(args.metrics), result)
    if not args.no_mlflow:
        from pipeline.core.tracking import stage_run

        inputs = upstream_outputs(trace.stages, args.as_of)
        with stage_run("trace", inputs=inputs, root=Path(args.root)) as mlflow:
            mlflow.log_metrics({k: v for k, v in result["counts"].items()})
            mlflow.set_tag("release_status", result["release_status"])
    print(f"trace site: {args.out} ({result['release_status']}, {len(problems)} problem(s))")
    return 0


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="repository root")
    parser.add_argument("--junit", default="reports/junit.xml", help="pytest junit report")
    parser.add_argument("--vnv", default="metrics/vnv.json", help="verify stage results")
    parser.add_argument("--as-of", default=None, metavar="STAGE",
                        help="the DVC stage running this command: it and later stages are not "
                             "expected in dvc.lock yet")


def _paths(args: argparse.Namespace):
    from pipeline.trace.graph import TracePaths

    return TracePaths(root=Path(args.root), junit=args.junit, vnv=args.vnv)


def upstream_outputs(stages: dict, as_of: str) -> list[str]:
    """The outputs of the stages before ``as_of`` in ``dvc.yaml`` order: what that stage reads.

    A later stage's outputs (the technical file) must not be recorded as inputs, or every
    re-render of that later stage would make this run look suspect.

    Args:
        stages: the trace graph's stages by name, in ``dvc.yaml`` order.
        as_of: the stage whose inputs are wanted.
    """
    names = list(stages)
    upstream = names[:names.index(as_of)] if as_of in names else names
    return sorted({path for name in upstream for path in stages[name].out_hashes})
