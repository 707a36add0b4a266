"""``python -m pipeline deid``: the DVC stage, or standalone ``deid SRC_DIR DST_DIR --key-file KEY``.

Without folders it runs as the DVC stage: paths from ``params.yaml`` (``deid`` section), the
key from ``$PIPELINE_DEID_KEY`` or the demo key file (created on first use, mode 0600), one
MLflow run with the report's counts. The key is never printed, logged or written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.params import load_section

STAGE = "deid"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="de-identify DICOM (PS3.15 Annex E, keyed pseudonyms, leak check)")
    parser.add_argument("source", nargs="?", help="input folder (recursive); default: deid.source")
    parser.add_argument("output", nargs="?", help="output folder (replaced atomically); default: deid.output")
    parser.add_argument("--key-file", help="secret key file; default: $PIPELINE_DEID_KEY or deid.key_file")
    parser.add_argument("--quarantine", help="quarantine folder; default: deid.quarantine, or OUTPUT_quarantine")
    parser.add_argument("--report", help="report JSON (counts only); default: deid.report, or OUTPUT_report.json")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pipeline.deid import batch
    from pipeline.deid.keys import load_key
    from pipeline.core.errors import UserError

    params = load_section(STAGE, Path(args.params))
    if (args.source is None) != (args.output is None):
        raise UserError("deid: give both SRC_DIR and DST_DIR, or neither (then params.yaml decides)")
    standalone = args.source is not None
    output = Path(args.output or params.output)
    paths = batch.DeidPaths(
        source=Path(args.source or params.source),
        output=output,
        quarantine=Path(args.quarantine or (f"{output}_quarantine" if standalone else params.quarantine)),
        report=Path(args.report or (f"{output}_report.json" if standalone else params.report)),
    )
    key_file = Path(args.key_file) if args.key_file else (None if standalone else Path(params.key_file))
    key = load_key(key_file, dict(os.environ), params.key_env, create=not standalone and not args.key_file)
    report = batch.run(params, paths, key, progress=_progress())
    if not args.no_mlflow and not standalone:
        _log(params, report)
    print(f"deid: {report['files_in']} files in, {report['written']} written, {report['quarantined']} "
          f"quarantined {report['quarantined_by_reason']}, {report['patients']} patients, "
          f"leaks: {report['leak_check'].get('leaks', 'not checked')} ({report['seconds']} s) -> {paths.output}")
    return 0


def _log(params, report: dict) -> None:
    from pipeline.core.tracking import stage_run

    with stage_run(STAGE, inputs=[params.source]) as mlflow:
        mlflow.log_params({f"option.{k}": v for k, v in params.options.model_dump().items()})
        mlflow.log_params({"uid_root": params.uid_root, "burned_in_mode": params.burned_in.mode,
                           "max_quarantined_share": params.max_quarantined_share})
        numbers = {k: v for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        numbers.update({f"quarantined.{k}": v for k, v in report["quarantined_by_reason"].items()})
        numbers.update({f"leak_check.{k}": v for k, v in report["leak_check"].items() if isinstance(v, int)})
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
