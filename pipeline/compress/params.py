"""The ``compress`` section of ``params.yaml``: students, distillation, quantization, selection."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.params_base import StrictModel


class StudentParams(StrictModel):
    """A narrower MONAI ``UNet`` to distil the teacher into."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    channels: list[int] = Field(min_length=2, max_length=6)
    strides: list[int] = Field(min_length=1, max_length=5)
    num_res_units: int = Field(default=0, ge=0, le=4)

    @model_validator(mode="after")
    def _levels(self) -> "StudentParams":
        if len(self.strides) != len(self.channels) - 1:
            raise ValueError(f"strides needs len(channels) - 1 = {len(self.channels) - 1} values")
        if any(c < 1 for c in self.channels) or any(s < 1 for s in self.strides):
            raise ValueError("channels and strides must be positive")
        return self


class DistillParams(StrictModel):
    """Knowledge distillation: soft teacher targets (KL at a temperature) plus Dice + CE on labels."""

    epochs: int = Field(ge=1, le=10000)
    learning_rate: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    temperature: float = Field(default=2.0, gt=0.0, le=20.0)
    kd_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="share of the KL term; the rest is Dice+CE")
    cases_per_batch: int = Field(default=2, ge=1, le=64)
    patches_per_case: int = Field(default=2, ge=1, le=64)
    pos_neg_ratio: float = Field(default=1.0, gt=0.0)
    val_every: int = Field(default=1, ge=1)
    seed: int = Field(ge=0)
    threads: int = Field(default=2, ge=1, le=256)


class QuantizeParams(StrictModel):
    """INT8 static quantization in ONNX Runtime (QDQ), calibrated on training cases only."""

    enabled: bool = True
    calibration_cases: int = Field(default=4, ge=1, le=1000, description="training cases used")
    per_channel: bool = True


class CompressParams(StrictModel):
    """Which candidates to build and how the shipped one is chosen."""

    students: list[StudentParams] = Field(min_length=1)
    distill: DistillParams
    quantize: QuantizeParams
    max_dice_drop: float = Field(default=0.01, ge=0.0, le=1.0,
                                 description="largest allowed val Dice loss against the teacher")
    keep_largest_component: Literal["auto", "never"] = Field(
        default="auto", description="auto: per model, keep only the largest connected component "
                                    "when that raises its validation Dice; never: argmax only")
    latency_repeats: int = Field(default=10, ge=1, le=1000)
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0)
    sw_batch_size: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _unique(self) -> "CompressParams":
        names = [s.name for s in self.students]
        if len(set(names)) != len(names) or "teacher" in names:
            raise ValueError(f"student names must be unique and not 'teacher': {names}")
        return self
