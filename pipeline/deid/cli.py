"""``python -m pipeline deid``: the DVC stage, or standalone ``deid SRC_DIR DST_DIR --key-file KEY``.

Without folders it runs as the DVC stage: folders from ``params.yaml``'s ``paths``, the
key from ``$PIPELINE_DEID_KEY`` or the demo key file (created on first use, mode 0600), one
MLflow run with the report's counts. The key is never printed, logged or written.

Standalone, the key comes from ``--key-file`` when given (it wins over ``$PIPELINE_DEID_KEY``,
which is then not read), else from ``$PIPELINE_DEID_KEY``. DST is replaced only when it is new,
empty or a previous output of this command, unless ``--replace`` is given (``batch.run`` lists
every refusal). Every user mistake is one line ``error: ...`` and exit 2, a failure of the
disk (a read-only folder, a full disk) too; Ctrl-C is one line and exit 130, and the previous
output is left as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from pipeline.params import load_params, params_file

STAGE = "deid"
EXIT_INTERRUPTED = 130
INTERRUPTED = "deid: interrupted; the previous output is unchanged"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="de-identify DICOM (PS3.15 Annex E, keyed pseudonyms, leak check)")
    parser.add_argument("source", nargs="?", help="input folder (recursive); default: deid.source")
    parser.add_argument("output", nargs="?", help="output folder (replaced atomically); default: paths.deid")
    parser.add_argument("--key-file", help="secret key file (wins over $PIPELINE_DEID_KEY); "
                        "default: $PIPELINE_DEID_KEY, or deid.key_file for the stage")
    parser.add_argument("--quarantine", help="quarantine folder; default: paths.deid_quarantine, or OUTPUT_quarantine")
    parser.add_argument("--report", help="report JSON (counts only); default: paths.deid_metrics, or OUTPUT_report.json")
    parser.add_argument("--replace", action="store_true",
                        help="standalone: replace OUTPUT (and quarantine, report) even when they are not "
                             "a previous output of this command (the stage always replaces its outputs)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pipeline.core.errors import UserError

    try:
        with _writer(args) as writer:
            try:
                params, paths, key, standalone = _prepare(args)
                report = _run(params, paths, key, standalone, args.replace)
            except KeyboardInterrupt:
                print(INTERRUPTED, file=sys.stderr)
                return EXIT_INTERRUPTED
            try:
                _after(args, params, paths, report, standalone, writer)
            except KeyboardInterrupt:
                print(f"deid: interrupted after the output was written to {paths.output}", file=sys.stderr)
                return EXIT_INTERRUPTED
    except OSError as exc:  # the disk refused (read-only, full, vanished): one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        raise UserError(f"deid: {exc.strerror or exc}{where}") from None
    return 0


def _prepare(args: argparse.Namespace):
    from pipeline.deid import batch
    from pipeline.deid.keys import load_key
    from pipeline.core.errors import UserError

    config = load_params(params_file(args))
    params, where = config.deid, config.paths
    if (args.source is None) != (args.output is None):
        raise UserError("deid: give both SRC_DIR and DST_DIR, or neither (then params.yaml decides)")
    standalone = args.source is not None
    output = Path(args.output or where.deid)
    paths = batch.DeidPaths(
        source=Path(args.source or params.source),
        output=output,
        quarantine=Path(args.quarantine or (f"{output}_quarantine" if standalone else where.deid_quarantine)),
        report=Path(args.report or (f"{output}_report.json" if standalone else where.deid_metrics)),
    )
    key_file = Path(args.key_file) if args.key_file else (None if standalone else Path(params.key_file))
    key = load_key(key_file, dict(os.environ), params.key_env, create=not standalone and not args.key_file,
                   explicit=bool(args.key_file))
    return params, paths, key, standalone


def _run(params, paths, key, standalone: bool, replace: bool) -> dict:
    from pipeline.deid import batch

    return batch.run(params, paths, key, progress=_progress(), standalone=standalone,
                     replace=replace or not standalone)


def _writer(args: argparse.Namespace):
    """The MLflow run writer, started before the work so that importing MLflow and opening its
    store happen beside it (``pipeline.core.tracking``); the run itself is opened after the work,
    with the counts. None standalone or with ``--no-mlflow``."""
    if args.no_mlflow or args.source is not None:
        return contextlib.nullcontext()
    from pipeline.core.tracking import start_writer

    return start_writer(Path("."))


def _after(args: argparse.Namespace, params, paths, report: dict, standalone: bool, writer) -> None:
    if writer is not None:
        _log(params, paths, report, writer)
    print(f"deid: {report['files_in']} files in, {report['written']} written, {report['quarantined']} "
          f"quarantined {report['quarantined_by_reason']}, {report['patients']} patients, "
          f"leaks: {report['leak_check'].get('leaks', 'not checked')} ({report['seconds']} s) -> {paths.output}")


def _log(params, paths, report: dict, writer) -> None:
    from pipeline.core.tracking import stage_run

    with stage_run(STAGE, inputs=[str(paths.source)], writer=writer) as mlflow:
        mlflow.log_params({f"option.{k}": v for k, v in params.options.model_dump().items()})
        mlflow.log_params({"uid_root": params.uid_root, "burned_in_mode": params.burned_in.mode,
                           "max_quarantined_share": params.max_quarantined_share})
        numbers = {k: v for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        numbers.update({f"quarantined.{k}": v for k, v in report["quarantined_by_reason"].items()})
        numbers.update({f"leak_check.{k}": v for k, v in report["leak_check"].items() if isinstance(v, int)})
        numbers.update({f"pixel_text.{k}": v for k, v in report["pixel_text"].items()})
        mlflow.log_metrics(numbers)


def _progress():
    from pipeline.core.progress import show_progress

    if not show_progress():
        return None
    from tqdm import tqdm

    bar = tqdm(unit="file", desc="deid", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return update
