"""The export metrics (``metrics/export.json``): each released ONNX file, its parity and latency.

Written by the export stage, read by the technical file (model card, release notes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.records import RecordModel, load_record


class OnnxFile(RecordModel):
    """The written file: its SHA-256 and size, and how it was exported."""

    sha256: str
    bytes: int
    opset: int
    exporter: Literal["torchscript", "dynamo"]


class ParityCase(RecordModel):
    """One validation case: the file against its PyTorch module, and the file's Dice."""

    case_id: str
    voxels: int
    max_abs_diff: float
    argmax_mismatches: int
    decision_ties: int = 0  # differing voxels within twice the logit tolerance of the operating point
    dice: float


class ParitySummary(RecordModel):
    """Worst difference, total mismatches and mean Dice over the validation cases."""

    cases: int
    max_abs_diff: float
    argmax_mismatches: int
    decision_ties: int = 0
    voxels: int
    mean_dice: float


class ExportedModel(RecordModel):
    """One released file: what it was made from, where it runs, how it compared."""

    onnx: OnnxFile
    file: str  # name in the release's models folder
    parameters: int
    source_checkpoint: str
    method: Literal["none", "distill", "scratch", "prune"]
    candidate: str
    precision: Literal["fp32", "int8"]
    runtime: str
    runtime_version: str
    parity_cases: list[ParityCase]
    parity: ParitySummary
    keep_largest_component: bool
    foreground_threshold: float


class VolumeLatency(RecordModel):
    """Median milliseconds per sliding-window volume on the largest validation case."""

    volume_shape: list[int]
    repeats: int
    teacher_runtime: float
    teacher_torch_eager: float
    compressed_runtime: float | None = None  # only when a compressed model is released
    compressed_torch_eager: float | None = None


class Ratios(RecordModel):
    """Speed-ups and size reduction (the compressed ones only when a compressed model is released)."""

    teacher_runtime_vs_torch_eager: float
    compressed_vs_teacher_speedup: float | None = None
    compressed_runtime_vs_torch_eager: float | None = None
    compressed_size_reduction: float | None = None


class ExportMetrics(RecordModel):
    """The released files, the settings they were exported with, parity and latency."""

    opset: int
    exporter: Literal["torchscript", "dynamo"]
    parity_atol: float
    compressed_released: bool
    compression_reason: str
    runtime: str  # the teacher's
    runtime_version: str
    teacher: ExportedModel
    compressed: ExportedModel | None
    volume_latency_ms: VolumeLatency
    val_dice_teacher: float
    val_dice_compressed: float | None = None  # only when a compressed model is released
    dice_drop: float | None = None
    ratios: Ratios


def load_export_metrics(path: Path) -> ExportMetrics:
    """Parse ``metrics/export.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, ExportMetrics, "export metrics", "export")
