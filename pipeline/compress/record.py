"""The compression record (``models/compression.json``): what the compress stage chose, read by export.

Written by the compress stage and parsed back through this model by the export stage, so a
missing or misspelt field fails with a message instead of a ``KeyError`` later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel


class ShippedModel(StrictModel):
    """One model the release ships: where its weights are, what it is, where it runs, what it measured."""

    candidate: str
    method: Literal["none", "distill", "scratch", "prune"]
    precision: Literal["fp32", "int8"]
    checkpoint: str | None  # file name in the candidates folder; None: the teacher's own checkpoint
    runtime: str
    runtime_version: str
    keep_largest_component: bool
    foreground_threshold: float = 0.5  # operating point chosen on validation (pipeline.compress.postprocessing)
    val_dice: float
    volume_ms: float
    bytes: int
    dice_drop: dict | None = None  # paired val Dice drop vs the teacher: mean, ci_lower, ci_upper, n
    speedup: float | None = None
    size_reduction: float | None = None


class CompressionRecord(StrictModel):
    """The choice: the teacher's runtime and post-processing, and the compressed model or None."""

    teacher: ShippedModel
    compressed: ShippedModel | None
    reason: str
    targets: dict
    training_case_ids: list[str]
    selection_case_ids: list[str]
    calibration_case_ids: list[str]


def read_record(path: Path) -> CompressionRecord:
    """Parse ``models/compression.json``; ``UserError`` naming the file when it is not a valid record."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found: run the compress stage first")
    try:
        return CompressionRecord.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise UserError(f"{path} is not a compression record of this pipeline version: {exc}") from None
