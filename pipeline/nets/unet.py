"""The segmentation network: MONAI's ``UNet``, built from its params (``train.network``).

Shared by train (the teacher), compress (students and the pruned teacher) and export; the
checkpoint format is in ``pipeline.nets.checkpoint``.
"""

from __future__ import annotations

from typing import Literal

import torch
from monai.networks.nets import UNet
from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel

IN_CHANNELS = 1
OUT_CHANNELS = 2  # background, foreground


class NetworkParams(StrictModel):
    """A MONAI ``UNet``: channels per level, strides between levels."""

    spatial_dims: Literal[2, 3] = 3
    channels: list[int] = Field(min_length=2, max_length=6)
    strides: list[int] = Field(min_length=1, max_length=5)
    num_res_units: int = Field(default=1, ge=0, le=4)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _levels(self) -> "NetworkParams":
        check_levels(self.channels, self.strides)
        return self


def check_levels(channels: list[int], strides: list[int]) -> None:
    """A U-Net has one stride between each pair of levels, and positive channels and strides."""
    if len(strides) != len(channels) - 1:
        raise ValueError(f"strides needs len(channels) - 1 = {len(channels) - 1} values")
    if any(c < 1 for c in channels) or any(s < 1 for s in strides):
        raise ValueError("channels and strides must be positive")


def build_unet(network: NetworkParams | dict) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint)."""
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    return UNet(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS,
                channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                dropout=net.dropout)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
