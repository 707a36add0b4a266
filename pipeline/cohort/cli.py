"""``python -m pipeline cohort``: generate the synthetic default data set."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.core.atomic import write_json
from pipeline.params import load_section

STAGE = "cohort"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="generate the synthetic multi-site DICOM cohort")
    parser.add_argument("--out", default="data/raw", help="output folder (replaced atomically)")
    parser.add_argument("--metrics", default="metrics/cohort.json", help="summary JSON (no PHI)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pipeline.cohort import generate  # heavy imports only once params are valid

    params = load_section(STAGE, Path(args.params))
    start = time.perf_counter()
    summary = generate.run(params, Path(args.out))
    seconds = round(time.perf_counter() - start, 2)
    write_json(Path(args.metrics), summary)  # no timing inside: same params, same bytes
    if not args.no_mlflow:
        from pipeline.core.tracking import stage_run

        with stage_run(STAGE, inputs=[]) as mlflow:
            mlflow.log_params({"seed": params.seed, "patients_per_site": params.patients_per_site,
                               "sites": len(params.sites)})
            mlflow.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})
            mlflow.log_metric("seconds", seconds)
    print(f"cohort: {summary['patients']} patients, {summary['studies']} studies, "
          f"{summary['files']} files in {args.out} ({seconds} s)")
    return 0
