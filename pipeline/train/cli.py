"""``python -m pipeline train``: train the teacher U-Net (also under ``torchrun --nproc_per_node N``)."""

from __future__ import annotations

import argparse
import os

from pipeline.command import Invocation, StageCommand
from pipeline.core.progress import bar


def _run(inv: Invocation) -> dict:
    from pipeline.train import mlflow_log

    if inv.mlflow is not None:  # before this process imports torch (the run writer imports it too)
        mlflow_log.prepare_model(inv.mlflow, inv.args.mlflow_model)
    from pipeline.train import distributed, stage

    params, p = inv.params.train, inv.paths
    paths = stage.TrainPaths(p.cache, p.splits, p.model, p.metrics, p.curve)
    info = distributed.setup(params.device)
    logging = inv.mlflow is not None and info.is_main
    if logging:
        mlflow_log.log_params(inv.mlflow, params, info)
    try:
        result = stage.run(params, paths, info, progress=bar("train"),
                           on_epoch=(lambda row: mlflow_log.log_epoch(inv.mlflow, row)) if logging else None)
    finally:
        distributed.cleanup(info)
    if logging:
        mlflow_log.log_result(inv.mlflow, result, paths, p.fingerprint, inv.args.mlflow_model)
    return result


def _summary(inv: Invocation, r: dict) -> str:
    if "best_val_dice" not in r:  # a DDP rank other than 0: rank 0 reports
        return ""
    return (f"train: best val Dice {r['best_val_dice']:.4f} at epoch {r['best_epoch']}/{r['epochs']} in "
            f"{r['seconds']} s on {r['device']} x{r['world_size']} (weights sha256 {r['weights_sha256'][:12]})")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mlflow-model", choices=("pytorch", "artifact"), default="pytorch",
                        help="log the model as an MLflow PyTorch model (default) or the checkpoint file")


COMMAND = StageCommand(
    name="train", help="train the MONAI U-Net teacher (torchrun for DDP)",
    paths={"cache": ("cache", "preprocessed cache folder"), "splits": ("splits", "splits JSON"),
           "fingerprint": ("fingerprint", "logged to MLflow"), "model": ("teacher", "checkpoint to write"),
           "metrics": ("train_metrics", "DVC metrics JSON"), "curve": ("train_curve", "DVC plots CSV")},
    inputs=("cache", "splits"), missing="run the preprocess stage first",
    core=_run, summary=_summary, options=_options, records=lambda: os.environ.get("RANK", "0") == "0")
register = COMMAND.register
