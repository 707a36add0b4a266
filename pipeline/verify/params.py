"""The ``verify`` section of ``params.yaml``: the plan file, bootstrap, metric and evidence settings,
the perturbations of the robustness criteria and the membership-inference assessment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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


class NoiseParams(StrictModel):
    """Additive Gaussian noise (a noisier, lower-dose acquisition)."""

    sigma: float = Field(default=0.05, gt=0.0, le=1.0,
                         description="standard deviation in normalised intensity units (ct_window: "
                                     "1 = high - low HU)")


class IntensityParams(StrictModel):
    """A linear intensity change ``scale * x + shift`` (scanner calibration drift)."""

    scale: float = Field(default=1.05, ge=0.5, le=2.0, description="gain on the normalised intensity")
    shift: float = Field(default=0.025, ge=-0.5, le=0.5, description="offset in normalised intensity units")

    @model_validator(mode="after")
    def _changes_something(self) -> "IntensityParams":
        if self.scale == 1.0 and self.shift == 0.0:
            raise ValueError("scale 1.0 and shift 0.0 leave the image unchanged: nothing would be tested")
        return self


class BlurParams(StrictModel):
    """Gaussian blur (a softer reconstruction kernel)."""

    sigma_mm: float = Field(default=1.0, gt=0.0, le=10.0, description="standard deviation in mm, per axis")


class AdversarialParams(StrictModel):
    """An L-inf bounded gradient-sign attack (FGSM; PGD with more steps) on the torch teacher."""

    epsilon: float = Field(default=0.01, gt=0.0, le=0.1,
                           description="L-inf budget in normalised intensity units (ct_window: 0.01 = "
                                       "4 HU of the demo's 400 HU window)")
    steps: int = Field(default=1, ge=1, le=10, description="1: FGSM; more: PGD steps of 2.5 epsilon / steps")


class RobustnessParams(StrictModel):
    """The perturbations robustness criteria name (``perturbation:`` in the V&V plan); only those
    a criterion names are computed, on the locked test split, seeded by ``verify.seed``."""

    noise: NoiseParams = Field(default_factory=NoiseParams)
    intensity: IntensityParams = Field(default_factory=IntensityParams)
    blur: BlurParams = Field(default_factory=BlurParams)
    adversarial: AdversarialParams = Field(default_factory=AdversarialParams)


class MembershipParams(StrictModel):
    """The loss-threshold membership-inference attack (criteria on ``membership_auc``)."""

    min_cases: int = Field(default=5, ge=2, le=10000,
                           description="fewer members (train split) or non-members (test split) with a "
                                       "score than this: the attack AUC is INCONCLUSIVE")


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
    robustness: RobustnessParams = Field(default_factory=RobustnessParams)
    membership: MembershipParams = Field(default_factory=MembershipParams)
