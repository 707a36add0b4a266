"""What the train stage records in MLflow: params, per-epoch metrics, model, fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.train.params import TrainParams

if TYPE_CHECKING:  # not imported: torch, which the run writer should start importing first
    from pipeline.train.distributed import DistInfo

MODEL_LOADER = "pipeline.nets.checkpoint:load_checkpoint"  # the run writer loads the checkpoint with it
PIP_REQUIREMENTS = ["torch==2.13.0", "monai==1.6.1"]


def log_params(mlflow, params: TrainParams, info: DistInfo) -> None:
    """Every ``train`` param (flattened) plus the device and world size."""
    flat = _flatten(params.model_dump())
    flat.update({"device": info.device, "world_size": info.world_size, "backend": info.backend})
    mlflow.log_params(flat)


def prepare_model(mlflow, how: str) -> None:
    """For ``pytorch``, have the run writer import torch and MONAI now, while this process imports
    its own (before training: on two cores, two OpenMP threads run several times slower beside a
    busy process), so that logging the model after training does not wait for them."""
    if how == "pytorch":
        mlflow.prepare_pytorch_model(MODEL_LOADER)


def log_epoch(mlflow, row: dict) -> None:
    """One epoch's loss, val Dice (when computed) and learning rate."""
    values = {k: float(v) for k, v in row.items() if k != "epoch" and v == v}
    mlflow.log_metrics(values, step=int(row["epoch"]))


def log_result(mlflow, result: dict, paths, fingerprint: Path, how: str) -> None:
    """Final metrics, the model (with an input example), fingerprint, splits and curve.

    Args:
        mlflow: the stage run's recorder (``pipeline.core.tracking.RunRecorder``).
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
    """An MLflow PyTorch model of the checkpoint, with an all-zero input example of one patch;
    the run writer loads the checkpoint and logs it (``pipeline.core.run_writer``)."""
    mlflow.log_pytorch_model(MODEL_LOADER, checkpoint, (1, config["in_channels"], *config["patch_size"]),
                             pip_requirements=PIP_REQUIREMENTS)


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
