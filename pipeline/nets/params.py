"""The network's params (``train.network``, the students of ``compress.candidates``), without torch.

Kept apart from ``pipeline.nets.unet`` so that validating ``params.yaml`` (``check-params``, and
every stage command, which loads its section first) does not import torch and MONAI.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel


class UNetShape(StrictModel):
    """What a MONAI ``UNet`` is made of: channels per level, strides between levels, residual
    units, the top unit, the norm and the up-sampling kernel (shared by ``train.network`` and the
    students of ``compress.candidates``)."""

    channels: list[Annotated[int, Field(ge=1)]] = Field(min_length=2, max_length=6)
    strides: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=5)
    num_res_units: int = Field(default=1, ge=0, le=4)
    top_residual_unit: bool = Field(default=True, description=(
        "MONAI's residual unit after the last up-sampling (a convolution on the output channels at full "
        "resolution, present when num_res_units > 0). false ends the network with the up-sampling "
        "convolution alone, as MONAI does with num_res_units 0"))
    norm: Literal["instance", "batch"] = Field(default="instance", description=(
        "instance: statistics of each window (MONAI's default); batch: running statistics learnt in "
        "training, which the runtimes fold into the convolutions at inference (no reductions left)"))
    top_norm: Literal["instance", "batch"] | None = Field(default=None, description=(
        "norm of the top level's encoder unit, the first layers the image meets (default: norm). "
        "instance there with batch below: the unit's convolutions are standardised per window and "
        "channel, so a global intensity scale and offset (a calibration drift) reaches the layers "
        "below, whose running statistics cannot adapt to it, only through the unit's residual "
        "projection; it costs one reduction per convolution of the top unit, on its few channels"))
    up_kernel_size: Literal[2, 3] | list[Literal[2, 3]] = Field(default=3, description=(
        "kernel of the transposed convolutions that up-sample, one value or one per level from the top "
        "(len(strides) values): 3 is MONAI's; 2 with stride 2 maps each voxel to its own 2x2x2 block "
        "(nnU-Net's up-sampling), 27/8 fewer multiply-adds"))
    encoder_subunits: list[Annotated[int, Field(ge=1, le=4)]] | None = Field(default=None, description=(
        "convolutions of each level's encoder residual unit, from the top down, the last the bottom block "
        "(len(channels) values; needs num_res_units > 0). Default: num_res_units at every level. The top "
        "level's unit runs at half resolution on the fewest channels, yet costs the most per voxel "
        "of any level"))

    def up_kernels(self) -> list[int]:
        """The up-sampling kernel of each level, from the top (full resolution) down."""
        if isinstance(self.up_kernel_size, int):
            return [self.up_kernel_size] * len(self.strides)
        return list(self.up_kernel_size)

    def encoder_depths(self) -> list[int]:
        """The convolutions of each level's encoder residual unit, from the top; the last is the bottom."""
        return list(self.encoder_subunits) if self.encoder_subunits else [self.num_res_units] * len(self.channels)

    @model_validator(mode="after")
    def _levels(self) -> "UNetShape":
        check_levels(self.channels, self.strides)
        if isinstance(self.up_kernel_size, list) and len(self.up_kernel_size) != len(self.strides):
            raise ValueError(f"up_kernel_size = {self.up_kernel_size}: needs one value per stride "
                             f"({len(self.strides)}), from the top level down")
        if any(k == 2 and s != 2 for k, s in zip(self.up_kernels(), self.strides)):
            raise ValueError(f"up_kernel_size 2 needs a stride of 2 at its level (the kernel equals the stride): "
                             f"up_kernel_size = {self.up_kernel_size}, strides = {self.strides}")
        if self.encoder_subunits is not None:
            if self.num_res_units == 0:
                raise ValueError("encoder_subunits needs residual units (num_res_units > 0)")
            if len(self.encoder_subunits) != len(self.channels):
                raise ValueError(f"encoder_subunits = {self.encoder_subunits}: needs one value per level "
                                 f"({len(self.channels)}, the last the bottom block), from the top down")
        return self


class NetworkParams(UNetShape):
    """A MONAI ``UNet`` (``train.network``): its shape, spatial dims and dropout."""

    spatial_dims: Literal[2, 3] = 3
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


def check_levels(channels: list[int], strides: list[int]) -> None:
    """A U-Net has one stride between each pair of levels, and positive channels and strides."""
    if len(strides) != len(channels) - 1:
        raise ValueError(f"strides = {strides}: needs len(channels) - 1 = {len(channels) - 1} values")
    if any(c < 1 for c in channels) or any(s < 1 for s in strides):
        raise ValueError(f"channels = {channels}, strides = {strides}: must be positive")
