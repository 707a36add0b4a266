"""The ``compress`` section of ``params.yaml``: candidates, runtimes, quantization, selection."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.nets.params import UNetShape
from pipeline.core.params_base import StrictModel, distinct
from pipeline.runtime.engines import RUNTIMES


class StudentNetwork(UNetShape):
    """A student MONAI ``UNet`` (same spatial dims as the teacher, no dropout)."""

    num_res_units: int = Field(default=0, ge=0, le=4)


class CandidateParams(StrictModel):
    """One way to build a smaller model, trained with the teacher's own recipe.

    ``distill``: a student network trained on labels and the teacher's soft targets;
    ``scratch``: the same kind of student on labels only (what distillation bought);
    ``prune``: the teacher with ``ratio`` of its channels removed (Torch-Pruning, L2 magnitude,
    whole dependency groups), fine-tuned with distillation.
    """

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    method: Literal["distill", "scratch", "prune"]
    epochs: int = Field(ge=1, le=10000, description="training (or fine-tuning) epochs, cosine schedule")
    network: StudentNetwork | None = Field(default=None, description="the student (distill, scratch)")
    ratio: float | None = Field(default=None, gt=0.0, lt=1.0, description="share of channels removed (prune)")

    @model_validator(mode="after")
    def _fields(self) -> "CandidateParams":
        if self.method == "prune" and (self.ratio is None or self.network is not None):
            raise ValueError("a prune candidate needs ratio and no network")
        if self.method != "prune" and (self.network is None or self.ratio is not None):
            raise ValueError(f"a {self.method} candidate needs network and no ratio")
        return self


class DistillParams(StrictModel):
    """Soft targets: ``(1 - w) * DiceCE(labels) + w * T^2 * KL(teacher || student)``."""

    temperature: float = Field(default=1.0, gt=0.0, le=20.0)
    kd_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="share of the KL term")


class QuantizeParams(StrictModel):
    """INT8 post-training static quantization (QDQ) of every FP32 candidate, calibrated on training cases."""

    enabled: bool = True
    calibration_cases: int = Field(default=4, ge=1, le=1000, description="training cases used")
    per_channel: bool = True


class SelectionParams(StrictModel):
    """What a candidate must show on the validation split to be shipped as the compressed model."""

    max_dice_drop: float = Field(default=0.01, ge=0.0, le=1.0,
                                 description="largest mean paired per-case val Dice loss against the teacher")
    min_speedup: float = Field(default=3.0, ge=1.0, description="per sliding-window volume, same runtime")
    min_size_reduction: float = Field(default=4.0, ge=1.0, description="teacher file bytes / candidate bytes")
    parity_atol: float = Field(default=1e-4, gt=0.0, le=1e-2,
                               description="the export parity gate (must equal export.parity_atol)")
    max_argmax_mismatches: int = Field(default=0, ge=0, description=(
        "must equal export.max_argmax_mismatches (ties within 2 x parity_atol of the operating point are "
        "recorded, not counted)"))
    speed_tie: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="eligible candidates within this share of the fastest one's time per volume count as "
                    "equally fast; among them the smallest paired val Dice drop ships (latency medians on a "
                    "shared 2-core machine moved by ~8 % between two identical networks)")
    eager_tie: float = Field(
        default=0.1, ge=0.0, lt=1.0,
        description="a runtime counts as slower than torch eager on the same model only beyond this share of "
                    "torch's time per volume (timing noise: the shipped student measured ONNX Runtime at 1.18x "
                    "torch eager in one run and 0.94x in another, same weights and code)")


class CompressParams(StrictModel):
    """Which candidates to build, where to measure them and how the shipped one is chosen."""

    candidates: list[CandidateParams] = Field(min_length=1)
    distill: DistillParams = Field(default_factory=DistillParams)
    quantize: QuantizeParams = Field(default_factory=QuantizeParams)
    selection: SelectionParams = Field(default_factory=SelectionParams)
    runtimes: Annotated[list[Literal[RUNTIMES]], distinct("a runtime")] = Field(  # type: ignore[valid-type]
        default=list(RUNTIMES), min_length=1,
        description="runtimes measured where installed; the fastest for the chosen model ships")
    keep_largest_component: Literal["auto", "never"] = Field(
        default="auto", description="auto: per model, keep only the largest connected component "
                                    "when that raises its validation Dice; never: argmax only")
    foreground_thresholds: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default=[0.5], min_length=1, max_length=50,
        description="foreground-probability operating points tried per two-class model on validation "
                    "cases (0.5 = argmax is always tried); the one with the highest mean val Dice ships")
    amp: bool = Field(default=False, description=(
        "mixed precision for the candidates (pipeline.recipe.loop.precision: bfloat16 on CPUs with it); the teacher's "
        "own precision is train.amp"))
    val_every: int = Field(default=4, ge=1, description="validate every N epochs (and after the last)")
    val_after: float = Field(default=0.0, ge=0.0, lt=1.0, description="share of the epochs before the first validation")
    latency_repeats: int = Field(default=5, ge=1, le=1000, description="interleaved rounds per latency median")
    latency_cases: int = Field(default=4, ge=1, le=1000, description=(
        "validation volumes timed, spread over the range of their sizes (the largest included); a model's "
        "time per volume is its mean over them"))
    bootstrap_samples: int = Field(default=2000, ge=100, le=100000, description="paired-drop CI resamples")
    seed: int = Field(ge=0)
    threads: int = Field(default=2, ge=1, le=256, description="pinned, as in training")
    workers: int = Field(default=1, ge=1, le=64,
                         description="candidates trained side by side (CPU only), each at threads // workers threads")
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0)
    sw_batch_size: int = Field(default=4, ge=1)

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, value: list[CandidateParams]) -> list[CandidateParams]:
        names = [c.name for c in value]
        if len(set(names)) != len(names) or "teacher" in names:
            raise ValueError(f"candidate names must be unique and not 'teacher': {names}")
        return value
