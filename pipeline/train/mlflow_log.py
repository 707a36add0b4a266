"""What the train stage records in MLflow: params, per-epoch metrics, model, fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.train.distributed import DistInfo
from pipeline.train.params import TrainParams


def log_params(mlflow, params: TrainParams, info: DistInfo) -> None:
    """Every ``train`` param (flattened) plus the device and world size."""
    flat = _flatten(params.model_dump())
    flat.update({"device": info.device, "world_size": info.world_size, "backend": info.backend})
    mlflow.log_params(flat)


def log_epoch(mlflow, row: dict) -> None:
    """One epoch's loss, val Dice (when computed) and learning rate."""
    values = {k: float(v) for k, v in row.items() if k != "epoch" and v == v}
    mlflow.log_metrics(values, step=int(row["epoch"]))


def log_result(mlflow, result: dict, paths, fingerprint: Path, how: str) -> None:
    """Final metrics, the model (with an input example), fingerprint, splits and curve.

    Args:
        mlflow: the mlflow module inside an active run.
        result: what ``stage.run`` returned on rank 0.
        paths: the stage's ``TrainPaths``.
        fingerprint: the data-set fingerprint JSON (logged when present).
        how: ``pytorch`` to log an MLflow PyTorch model, ``artifact`` for the checkpoint file only.
    """
    mlflow.log_metrics({k: float(result[k]) for k in ("best_val_dice", "best_epoch", "seconds",
                                                      "train_voxels_per_second")})
    mlflow.set_tags({"weights_sha256": result["weights_sha256"], "seed": result["seed"],
                     "threads": result["threads"]})
    for path in (paths.metrics, paths.curve, paths.splits, paths.model, fingerprint):
        if Path(path).is_file():
            mlflow.log_artifact(str(path))
    if how == "pytorch":
        _log_pytorch_model(mlflow, paths.model, result["config"])


def _log_pytorch_model(mlflow, checkpoint: Path, config: dict) -> None:
    import mlflow.pytorch

    from pipeline.nets.checkpoint import load_checkpoint

    net, _ = load_checkpoint(checkpoint)
    example = np.zeros((1, config["in_channels"], *config["patch_size"]), dtype=np.float32)
    mlflow.pytorch.log_model(net, name="model", input_example=example,
                             pip_requirements=["torch==2.13.0", "monai==1.6.1"])


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
