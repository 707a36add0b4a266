"""The ``verify`` section of ``params.yaml``: the plan file, bootstrap, metric and evidence settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.core.params_base import StrictModel


class ExplainParams(StrictModel):
    """Grad-CAM and occlusion evidence on representative test cases of the teacher."""

    enabled: bool = True
    cases: list[Literal["best", "median", "worst"]] = Field(
        default_factory=lambda: ["best", "median", "worst"], min_length=1,
        description="which test cases by teacher Dice are explained")
    method: Literal["hirescam", "gradcam"] = Field(
        default="hirescam", description="Grad-CAM variant shown and measured by VAL criteria: "
                                        "element-wise (HiResCAM) or channel-averaged weights; the "
                                        "other variant's attribution mass is recorded beside it")
    target_layer: str = Field(default="model.1.submodule.2", min_length=1,
                              description="Grad-CAM layer inside the MONAI UNet (a decoder block "
                                          "with several channels; the output layer is degenerate)")
    occlusion_mask_voxels: int = Field(default=8, ge=2, le=64)
    occlusion_overlap: float = Field(default=0.0, ge=0.0, lt=1.0)
    dilation_mm: float = Field(default=10.0, gt=0.0, description="margin around the lesion that "
                                                                 "counts as 'at the structure'")
    slices: int = Field(default=3, ge=1, le=8, description="most informative axial slices shown")


class VerifyParams(StrictModel):
    """How the released ONNX models are verified on the locked test split."""

    plan: str = Field(default="verification/criteria.yaml", min_length=1)
    nsd_tolerance_mm: float = Field(gt=0.0, le=50.0, description="normalised surface Dice tolerance")
    bootstrap_samples: int = Field(ge=100, le=100000)
    seed: int = Field(ge=0)
    worst_cases: int = Field(default=3, ge=1, le=50, description="worst cases listed per model")
    threads: int = Field(default=2, ge=1, le=256, description="ONNX Runtime and torch threads")
    timing_repeats: int = Field(
        default=3, ge=1, le=100,
        description="interleaved timing rounds per test case (median), after the untimed run that gives the metrics")
    explain: ExplainParams = Field(default_factory=ExplainParams)
