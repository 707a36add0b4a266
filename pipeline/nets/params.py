"""The network's params (``train.network``, the students of ``compress.candidates``), without torch.

Kept apart from ``pipeline.nets.unet`` so that validating ``params.yaml`` (``check-params``, and
every stage command, which loads its section first) does not import torch and MONAI.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel


class NetworkParams(StrictModel):
    """A MONAI ``UNet``: channels per level, strides between levels."""

    spatial_dims: Literal[2, 3] = 3
    channels: list[Annotated[int, Field(ge=1)]] = Field(min_length=2, max_length=6)
    strides: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=5)
    num_res_units: int = Field(default=1, ge=0, le=4)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    top_residual_unit: bool = Field(default=True, description=(
        "MONAI's residual unit after the last up-sampling (a convolution on the output channels at full "
        "resolution, present when num_res_units > 0). false ends the network with the up-sampling "
        "convolution alone, as MONAI does with num_res_units 0"))

    @model_validator(mode="after")
    def _levels(self) -> "NetworkParams":
        check_levels(self.channels, self.strides)
        return self


def check_levels(channels: list[int], strides: list[int]) -> None:
    """A U-Net has one stride between each pair of levels, and positive channels and strides."""
    if len(strides) != len(channels) - 1:
        raise ValueError(f"strides = {strides}: needs len(channels) - 1 = {len(channels) - 1} values")
    if any(c < 1 for c in channels) or any(s < 1 for s in strides):
        raise ValueError(f"channels = {channels}, strides = {strides}: must be positive")
