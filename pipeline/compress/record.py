"""The compress stage's records: the choice (``models/compression.json``) and its metrics.

``models/compression.json`` (``CompressionRecord``) is what export reads: the teacher's runtime
and post-processing and the compressed model, or none. ``metrics/compress.json``
(``CompressMetrics``) is every candidate as measured and judged, read by the technical file.
Both are parsed back through these models (``pipeline.core.records``), so a missing or misspelt
field fails with a message instead of a ``KeyError`` later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.records import RecordModel, load_record


class PairedDrop(RecordModel):
    """Mean paired per-case val Dice drop against the teacher with its bootstrap interval (None: NaN)."""

    mean: float | None
    ci_lower: float | None
    ci_upper: float | None
    n: int
    patients: int  # bootstrap clusters
    level: float


class Targets(RecordModel):
    """``compress.selection`` as the stage ran with it (``pipeline.compress.params.SelectionParams``)."""

    max_dice_drop: float
    min_speedup: float
    min_size_reduction: float
    parity_atol: float
    max_argmax_mismatches: int
    speed_tie: float
    eager_tie: float = 0.0  # records written before the tie: strict comparison with torch eager


class ShippedModel(RecordModel):
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
    dice_drop: PairedDrop | None = None  # paired val Dice drop vs the teacher
    speedup: float | None = None
    size_reduction: float | None = None


class CompressionRecord(RecordModel):
    """The choice: the teacher's runtime and post-processing, and the compressed model or None."""

    teacher: ShippedModel
    compressed: ShippedModel | None
    reason: str
    targets: Targets
    training_case_ids: list[str]
    selection_case_ids: list[str]
    calibration_case_ids: list[str]


class Parity(RecordModel):
    """A candidate's ONNX file against its PyTorch module on the validation cases, on one runtime."""

    max_abs_diff: float
    voxels: int
    argmax_mismatches: int
    decision_ties: int = 0  # differing voxels within twice the logit tolerance of the operating point


class ThresholdDice(RecordModel):
    """Mean validation Dice at one foreground threshold, without and with the largest component kept."""

    without: float
    largest_component: float


class BestOption(RecordModel):
    """The best post-processing option and the standard error the simplest close one was judged by."""

    foreground_threshold: float
    keep_largest_component: bool
    val_dice: float
    standard_error: float


class Postprocessing(RecordModel):
    """The operating point chosen on validation (``pipeline.compress.postprocessing.choose``)."""

    foreground_threshold: float
    keep_largest_component: bool
    mode: str
    cases: int
    rule: str
    best: BestOption
    cases_changed: int
    val_dice_without: float
    val_dice_largest_component: float
    val_dice: float
    val_dice_by_threshold: dict[str, ThresholdDice]  # threshold as text ("0.35") -> Dice
    operating_point: str | None = None  # more than two classes: why the argmax applies (no threshold grid)


class CandidateRow(RecordModel):
    """One (model, precision, runtime) as measured and judged. A row that could not be built or
    opened has ``error`` and no measurements; only measured rows carry the rest."""

    name: str
    source: str  # the candidate (or teacher) the file was made from
    precision: Literal["fp32", "int8"]
    runtime: str  # "-" when the INT8 file could not be made
    verdict: str  # reference, chosen, eligible, or why not
    bytes: int | None = None
    parameters: int | None = None
    error: str | None = None
    shippable: bool | None = None  # False for INT8 files (no parity reference yet)
    not_shippable_because: str | None = None
    runtime_version: str | None = None
    val_dice: float | None = None
    per_case: dict[str, float] | None = None  # validation case ID -> Dice
    postprocessing: Postprocessing | None = None
    parity: Parity | None = None
    volume_ms: float | None = None
    torch_eager_volume_ms: float | None = None
    dice_drop: PairedDrop | None = None
    speedup: float | None = None
    size_reduction: float | None = None


class CurvePoint(RecordModel):
    """One epoch of a candidate's training (``val_dice`` NaN on epochs without validation)."""

    epoch: int
    loss: float
    val_dice: float


class CandidateFit(RecordModel):
    """How one candidate was trained."""

    method: Literal["distill", "scratch", "prune"]
    epochs: int
    best_epoch: int
    best_val_dice: float
    kd_weight: float
    threads: int
    precision: str = "float32"  # the autocast dtype it trained in (compress.amp: pipeline.recipe.loop.precision)
    seconds: float
    curve: list[CurvePoint]


class CompressMetrics(RecordModel):
    """``metrics/compress.json``: the choice, the teacher and shipped model, every candidate row."""

    compressed: bool
    chosen: str | None  # "<candidate>@<runtime>"
    reason: str
    runtime: str  # the teacher's runtime
    targets: Targets
    shipped: ShippedModel | None
    teacher: ShippedModel
    candidates: list[CandidateRow]
    training: dict[str, CandidateFit]  # candidate name -> its training
    runtimes_available: list[str]
    train_cases: int
    val_cases: int
    threads: int
    workers: int
    seed: int


def load_compression(path: Path) -> CompressionRecord:
    """Parse ``models/compression.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, CompressionRecord, "compression record", "compress")


def load_compress_metrics(path: Path) -> CompressMetrics:
    """Parse ``metrics/compress.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, CompressMetrics, "compression metrics", "compress")
