"""The segmentation network: MONAI's ``UNet``, built from its params (``train.network``).

Shared by train (the teacher), compress (students and the pruned teacher) and export; the
checkpoint format is in ``pipeline.nets.checkpoint``.
"""

from __future__ import annotations

import torch
from monai.networks.nets import UNet

from pipeline.nets.params import NetworkParams, check_levels  # noqa: F401 (check_levels: re-exported)

IN_CHANNELS = 1
OUT_CHANNELS = 2  # a binary label map (background, one class): the default; N classes give N + 1


def out_channels(classes: list[str]) -> int:
    """Output channels for a label map of these foreground classes: background + one per class."""
    return 1 + len(classes)


def build_unet(network: NetworkParams | dict, outputs: int = OUT_CHANNELS) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint).

    Args:
        network: the network params.
        outputs: output channels, background included (``out_channels`` of the cache's classes).
    """
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    if outputs < 2:
        raise ValueError(f"a segmentation network needs at least 2 outputs (background and a class), not {outputs}")
    return UNet(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=outputs,
                channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                dropout=net.dropout)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
