"""The ``train`` section of ``params.yaml``: network, patches, optimiser, schedule, determinism."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.params_base import StrictModel


class NetworkParams(StrictModel):
    """A MONAI ``UNet``: channels per level, strides between levels."""

    spatial_dims: Literal[2, 3] = 3
    channels: list[int] = Field(min_length=2, max_length=6)
    strides: list[int] = Field(min_length=1, max_length=5)
    num_res_units: int = Field(default=1, ge=0, le=4)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _levels(self) -> "NetworkParams":
        if len(self.strides) != len(self.channels) - 1:
            raise ValueError(f"strides needs len(channels) - 1 = {len(self.channels) - 1} values")
        if any(c < 1 for c in self.channels) or any(s < 1 for s in self.strides):
            raise ValueError("channels and strides must be positive")
        return self


class AugmentParams(StrictModel):
    """Intensity augmentation of training patches (MONAI transforms), each applied with ``prob``.

    Scanners differ in noise, contrast and sharpness (RISK-005); training patches are varied along
    these axes. Values are in the normalised intensity units of the preprocessing (for the CT
    window -150..250 HU, 0.05 is 20 HU). ``prob: 0`` switches augmentation off.
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0, description="chance of each transform per patch")
    noise_std: float = Field(default=0.05, ge=0.0, description="Gaussian noise, std drawn from [0, noise_std]")
    smooth_sigma: list[float] = Field(default=[0.5, 1.0], min_length=2, max_length=2,
                                      description="Gaussian blur sigma range in voxels")
    scale: float = Field(default=0.1, ge=0.0, lt=1.0, description="intensity x (1 + U(-scale, scale))")
    shift: float = Field(default=0.05, ge=0.0, description="intensity + U(-shift, shift)")
    gamma: list[float] = Field(default=[0.7, 1.5], min_length=2, max_length=2, description="contrast gamma range")

    @model_validator(mode="after")
    def _ranges(self) -> "AugmentParams":
        for name in ("smooth_sigma", "gamma"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high")
        return self


class TrainParams(StrictModel):
    """How the teacher network is trained."""

    network: NetworkParams
    patch_size: list[int] = Field(min_length=2, max_length=3)
    cases_per_batch: int = Field(ge=1, le=64)
    patches_per_case: int = Field(ge=1, le=64, description="patches drawn from each case per step")
    pos_neg_ratio: float = Field(default=1.0, gt=0.0, description="foreground : background patch centres")
    batch_dice: bool = Field(default=False, description="Dice term over the whole batch, not per patch")
    flip_prob: float = Field(default=0.0, ge=0.0, le=1.0, description="random flip per axis")
    augment: AugmentParams = Field(default_factory=AugmentParams)
    epochs: int = Field(ge=1, le=10000)
    accumulation_steps: int = Field(default=1, ge=1, le=64)
    learning_rate: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    val_every: int = Field(default=1, ge=1)
    sw_batch_size: int = Field(default=4, ge=1)
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0)
    seed: int = Field(ge=0)
    threads: int = Field(ge=1, le=256, description="torch CPU threads, pinned: weights are bitwise "
                                                   "reproducible only at a fixed thread count")
    amp: bool = Field(default=True, description="mixed precision; used only on CUDA")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @model_validator(mode="after")
    def _dims(self) -> "TrainParams":
        if len(self.patch_size) != self.network.spatial_dims:
            raise ValueError(f"patch_size needs {self.network.spatial_dims} values")
        factor = 1
        for stride in self.network.strides:
            factor *= stride
        if any(size % factor for size in self.patch_size):
            raise ValueError(f"patch_size {self.patch_size} must be divisible by {factor} (product of strides)")
        return self
