"""The segmentation network: MONAI's ``UNet``, built from its params (``train.network``).

Shared by train (the teacher), compress (students and the pruned teacher) and export; the
checkpoint format is in ``pipeline.nets.checkpoint``.
"""

from __future__ import annotations

import torch
from monai.networks.nets import UNet

from pipeline.nets.params import NetworkParams, check_levels  # noqa: F401 (check_levels: re-exported)

IN_CHANNELS = 1
OUT_CHANNELS = 2  # background, foreground


def build_unet(network: NetworkParams | dict) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint)."""
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    return UNet(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS,
                channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                dropout=net.dropout)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
