"""The ``preprocess`` section of ``params.yaml``: source, geometry, intensities, splits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.data.params import SourceParams
from pipeline.runtime.spec import Normalisation
from pipeline.core.params_base import StrictModel, distinct


class SplitParams(StrictModel):
    """Patient-level splits, stratified, fixed by seed."""

    seed: int = Field(ge=0)
    val_fraction: float = Field(gt=0.0, lt=0.5)
    test_fraction: float = Field(gt=0.0, lt=0.5)
    stratify_by: Literal["site", "manufacturer", "none"] = "site"
    external_sites: Annotated[list[Annotated[str, Field(min_length=1)]], distinct("a site")] = Field(
        default_factory=list,
        description="sites (DICOM InstitutionName) whose patients form the locked external split, "
                    "read only by V&V: sites and scanners no training or validation case comes from")

    @model_validator(mode="after")
    def _training_left(self) -> "SplitParams":
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError(f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g}: "
                             f"must stay below 0.9 (cases are left for training)")
        return self


class PreprocessParams(StrictModel):
    """How raw cases become training-ready arrays."""

    source: SourceParams
    max_bad_fraction: float = Field(ge=0.0, le=1.0, description="share of bad cases that still passes")
    target_spacing_mm: list[Annotated[float, Field(gt=0.0)]] = Field(min_length=2, max_length=3)
    normalisation: Normalisation
    crop_foreground: bool = True
    crop_threshold: float = Field(default=0.0, description="normalised value above which a voxel is body "
                                                           "(ct_window: in [0, 1), the window's scale)")
    crop_margin: int = Field(default=4, ge=0, le=64)
    splits: SplitParams
    workers: int = Field(default=2, ge=1, description=(
        "processes reading DICOM series and writing cache files; the outputs are byte-identical for any "
        "number. On the 2-core machine, shared with a training run, 2 took the command from a median "
        "61.0 s to 40.8 s (3 interleaved rounds, 1.52x)"))

    @model_validator(mode="after")
    def _consistent(self) -> "PreprocessParams":
        window = self.normalisation.kind == "ct_window"
        if window and self.crop_foreground and not 0.0 <= self.crop_threshold < 1.0:
            # the CT window scales to [0, 1]: below 0 nothing is cropped, from 1 on nothing is body
            raise ValueError(f"crop_threshold = {self.crop_threshold}: must lie in [0, 1) with the "
                             f"ct_window normalisation (it scales to 0..1)")
        return self
