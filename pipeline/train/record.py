"""The training metrics (``metrics/train.json``): the best epoch, its validation Dice, the run's identity.

Written by the train stage, read by the technical file (model description, training summary).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.records import RecordModel, load_record


class TrainMetrics(RecordModel):
    """The selected checkpoint (best mean validation Dice) and how the run went."""

    best_val_dice: float
    best_epoch: int
    best_val_dice_per_case: dict[str, float]  # validation case ID -> Dice at the best epoch (mean over classes)
    best_val_dice_per_class: dict[str, float] = {}  # class name -> its mean validation Dice at the best epoch
    epochs: int
    final_train_loss: float
    seconds: float
    weights_sha256: str  # of the best state dict (pipeline.recipe.determinism.weights_sha256)
    seed: int
    threads: int
    device: str
    world_size: int
    amp: bool  # whether the run computed in mixed precision
    precision: str = "float32"  # the autocast dtype it computed in (bfloat16 on CPUs with it, float16 on CUDA)
    train_cases: int
    val_cases: int
    train_voxels_per_second: float


def load_train_metrics(path: Path) -> TrainMetrics:
    """Parse ``metrics/train.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, TrainMetrics, "training metrics", "train")
