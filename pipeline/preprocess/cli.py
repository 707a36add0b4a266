"""``python -m pipeline preprocess``: cases -> cache, fingerprint and patient-level splits."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.params import load_section
from pipeline.core.progress import bar

STAGE = "preprocess"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="read, resample, normalise, crop and split the cases")
    parser.add_argument("--out", default="data/preprocessed", help="cache folder (replaced atomically)")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON")
    parser.add_argument("--fingerprint", default="metrics/fingerprint.json", help="data-set fingerprint JSON")
    parser.add_argument("--source-path", default=None, help="override preprocess.source.path")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_section(STAGE, Path(args.params))
    if args.source_path:
        params = params.model_copy(update={"source": params.source.model_copy(update={"path": args.source_path})})
    from pipeline.preprocess import stage

    start = time.perf_counter()
    summary = stage.run(params, Path(args.out), Path(args.splits), Path(args.fingerprint), progress=bar(STAGE))
    summary["seconds"] = round(time.perf_counter() - start, 2)
    if not args.no_mlflow:
        from pipeline.core.tracking import stage_run

        with stage_run(STAGE, inputs=[params.source.path]) as mlflow:
            mlflow.log_params({"source_format": params.source.format,
                               "target_spacing_mm": params.target_spacing_mm,
                               "normalisation": params.normalisation.kind,
                               "split_seed": params.splits.seed})
            mlflow.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})
            mlflow.log_artifact(args.fingerprint)
            mlflow.log_artifact(args.splits)
    print(f"preprocess: {summary['cases']} cases ({summary['bad_cases']} bad), "
          f"train/val/test {summary['train_cases']}/{summary['val_cases']}/{summary['test_cases']} "
          f"in {summary['seconds']} s")
    return 0
