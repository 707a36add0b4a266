"""The ``preprocess`` section of ``params.yaml``: source, geometry, intensities, splits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.data.params import SourceParams
from pipeline.runtime.spec import Normalisation
from pipeline.core.params_base import StrictModel


class SplitParams(StrictModel):
    """Patient-level splits, stratified, fixed by seed."""

    seed: int = Field(ge=0)
    val_fraction: float = Field(gt=0.0, lt=0.5)
    test_fraction: float = Field(gt=0.0, lt=0.5)
    stratify_by: Literal["site", "manufacturer", "none"] = "site"
    external_sites: list[str] = Field(
        default_factory=list,
        description="sites (DICOM InstitutionName) whose patients form the locked external split, "
                    "read only by V&V: sites and scanners no training or validation case comes from")


class PreprocessParams(StrictModel):
    """How raw cases become training-ready arrays."""

    source: SourceParams
    max_bad_fraction: float = Field(ge=0.0, le=1.0, description="share of bad cases that still passes")
    target_spacing_mm: list[float] = Field(min_length=2, max_length=3)
    normalisation: Normalisation
    crop_foreground: bool = True
    crop_threshold: float = Field(default=0.0, description="normalised value above which a voxel is body")
    crop_margin: int = Field(default=4, ge=0, le=64)
    splits: SplitParams

    @model_validator(mode="after")
    def _positive_spacing(self) -> "PreprocessParams":
        if any(value <= 0 for value in self.target_spacing_mm):
            raise ValueError(f"target_spacing_mm must be positive, got {self.target_spacing_mm}")
        if self.splits.val_fraction + self.splits.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must leave cases for training")
        return self
