"""The preprocessing specification an ONNX file carries: what ``predict`` must do before and after.

It is the subset of the ``preprocess`` section and the training config that inference needs
(target spacing, orientation, normalisation, crop, window size and overlap, labels). It is
stored as JSON in the ONNX metadata (key ``preprocessing``) and validated when read back, so a
file never runs with a preprocessing it was not trained with.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.params_base import StrictModel
from pipeline.preprocess.params import Normalisation


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
                                   "component (chosen on validation cases: pipeline.export.postprocess)")


def build_spec(preprocess, config: dict, export, keep_largest_component: bool = False) -> PreprocessingSpec:
    """The spec from the ``preprocess`` params, a checkpoint's training config and ``export``.

    Args:
        preprocess: the validated ``preprocess`` section.
        config: the checkpoint's ``config`` (patch size, dims, orientation).
        export: the ``export`` section (labels, sliding-window overlap and batch).
        keep_largest_component: the post-processing chosen for this model on validation cases.
    """
    return PreprocessingSpec(
        spatial_dims=int(config["spatial_dims"]), in_channels=int(config.get("in_channels", 1)),
        target_spacing_mm=[float(v) for v in preprocess.target_spacing_mm],
        orientation=str(config.get("orientation", "RAS")), normalisation=preprocess.normalisation,
        crop_foreground=preprocess.crop_foreground, crop_threshold=float(preprocess.crop_threshold),
        crop_margin=preprocess.crop_margin, patch_size=[int(v) for v in config["patch_size"]],
        sw_overlap=export.sw_overlap, sw_batch_size=export.sw_batch_size, labels=list(export.labels),
        keep_largest_component=keep_largest_component)
