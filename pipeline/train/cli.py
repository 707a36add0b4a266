"""``python -m pipeline train``: train the teacher U-Net (also under ``torchrun --nproc_per_node N``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.params import load_section
from pipeline.core.progress import bar

STAGE = "train"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="train the MONAI U-Net teacher (torchrun for DDP)")
    parser.add_argument("--cache", default="data/preprocessed", help="preprocessed cache folder")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON")
    parser.add_argument("--fingerprint", default="metrics/fingerprint.json", help="logged to MLflow")
    parser.add_argument("--model", default="models/teacher.pt", help="checkpoint to write")
    parser.add_argument("--metrics", default="metrics/train.json", help="DVC metrics JSON")
    parser.add_argument("--curve", default="metrics/train_curve.csv", help="DVC plots CSV")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.add_argument("--mlflow-model", choices=("pytorch", "artifact"), default="pytorch",
                        help="log the model as an MLflow PyTorch model (default) or the checkpoint file")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_section(STAGE, Path(args.params))
    from pipeline.train import distributed, stage

    info = distributed.setup(params.device)
    paths = stage.TrainPaths(Path(args.cache), Path(args.splits), Path(args.model), Path(args.metrics),
                             Path(args.curve))
    try:
        if args.no_mlflow or not info.is_main:
            result = stage.run(params, paths, info, progress=bar(STAGE))
        else:
            result = _run_logged(params, paths, info, args, bar(STAGE))
    finally:
        distributed.cleanup(info)
    if info.is_main:
        print(f"train: best val Dice {result['best_val_dice']:.4f} at epoch {result['best_epoch']}/"
              f"{result['epochs']} in {result['seconds']} s on {result['device']} x{result['world_size']} "
              f"(weights sha256 {result['weights_sha256'][:12]})")
    return 0


def _run_logged(params, paths, info, args, progress) -> dict:
    from pipeline.core.tracking import stage_run
    from pipeline.train import mlflow_log, stage

    inputs = [str(paths.cache), str(paths.splits)]
    with stage_run(STAGE, inputs=inputs) as mlflow:
        mlflow_log.log_params(mlflow, params, info)
        result = stage.run(params, paths, info, on_epoch=lambda row: mlflow_log.log_epoch(mlflow, row),
                           progress=progress)
        mlflow_log.log_result(mlflow, result, paths, Path(args.fingerprint), args.mlflow_model)
    return result
