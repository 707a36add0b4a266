"""The preprocessing specification an ONNX file carries: what ``predict`` must do before and after.

It is the subset of the ``preprocess`` section and the training config that inference needs
(target spacing, orientation, normalisation, crop, window size and overlap, labels). It is
stored as JSON in the ONNX metadata (key ``preprocessing``) and validated when read back, so a
file never runs with a preprocessing it was not trained with.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel

BACKGROUND = "background"  # class 0's name in every label map (the data source names classes 1..N)


class CtWindow(StrictModel):
    """Clip CT numbers to [low, high] HU and scale them to [0, 1]."""

    kind: Literal["ct_window"]
    low: float = -200.0
    high: float = 250.0

    @model_validator(mode="after")
    def _ordered(self) -> "CtWindow":
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be above low ({self.low})")
        return self


class ZScore(StrictModel):
    """Subtract the case's mean and divide by its standard deviation."""

    kind: Literal["zscore"]
    nonzero: bool = Field(default=False, description="statistics over non-zero voxels only")


Normalisation = Annotated[Union[CtWindow, ZScore], Field(discriminator="kind")]


class WindowSpec(StrictModel):
    """How a preprocessed volume is cut into network windows (all sliding-window inference needs)."""

    spatial_dims: Literal[2, 3]
    in_channels: int = Field(default=1, ge=1)
    patch_size: list[int] = Field(min_length=2, max_length=3)
    sw_overlap: float = Field(ge=0.0, lt=1.0)
    sw_batch_size: int = Field(ge=1)


class PreprocessingSpec(WindowSpec):
    """Everything between an input image and the network's windows, and back."""

    target_spacing_mm: list[float] = Field(min_length=2, max_length=3)
    orientation: str
    normalisation: Normalisation
    crop_foreground: bool
    crop_threshold: float
    crop_margin: int = Field(ge=0)
    labels: list[str] = Field(min_length=2)
    keep_largest_component: bool = Field(
        default=False, description="after the argmax, keep only the largest connected foreground "
                                   "component (chosen on validation cases: pipeline.compress.postprocessing)")
    foreground_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0,
        description="two-class models: a voxel is foreground when its foreground probability exceeds "
                    "this operating point (0.5 is the argmax; chosen on validation cases: "
                    "pipeline.compress.postprocessing)")

    @model_validator(mode="after")
    def _threshold_two_class(self) -> "PreprocessingSpec":
        if self.foreground_threshold != 0.5 and len(self.labels) != 2:
            raise ValueError(f"foreground_threshold {self.foreground_threshold} needs a two-class model; "
                             f"this one has {len(self.labels)} labels (the argmax, 0.5, applies)")
        return self
