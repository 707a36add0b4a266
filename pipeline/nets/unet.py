"""The segmentation network: MONAI's ``UNet``, built from its params (``train.network``).

Shared by train (the teacher), compress (students and the pruned teacher) and export; the
checkpoint format is in ``pipeline.nets.checkpoint``.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from monai.networks.nets import UNet

from pipeline.nets.params import NetworkParams, check_levels  # noqa: F401 (check_levels: re-exported)

IN_CHANNELS = 1
OUT_CHANNELS = 2  # a binary label map (background, one class): the default; N classes give N + 1


def out_channels(classes: list[str]) -> int:
    """Output channels for a label map of these foreground classes: background + one per class."""
    return 1 + len(classes)


class LeanTopUNet(UNet):
    """MONAI's ``UNet`` without the residual unit after its last up-sampling.

    With ``num_res_units`` > 0 MONAI follows the top transposed convolution with a residual unit
    whose convolution maps the output channels to themselves at full resolution. On the slim
    student that one 2-to-2 channel convolution took 9 of 41 ms per batch of four windows on ONNX
    Runtime (profiled 2026-11-27: im2col of a full-resolution volume for 108 multiply-adds a
    voxel), the most expensive layer of the network. Here the top up layer is the transposed
    convolution alone, without norm or activation (what MONAI builds when ``num_res_units`` is 0);
    every other layer is MONAI's.
    """

    def _get_up_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> torch.nn.Module:
        if not is_top:
            return super()._get_up_layer(in_channels, out_channels, strides, is_top)
        return Convolution(self.dimensions, in_channels, out_channels, strides=strides, kernel_size=self.up_kernel_size,
                           act=self.act, norm=self.norm, dropout=self.dropout, bias=self.bias, conv_only=True,
                           is_transposed=True, adn_ordering=self.adn_ordering)


def build_unet(network: NetworkParams | dict, outputs: int = OUT_CHANNELS) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint);
    ``LeanTopUNet`` when ``top_residual_unit`` is false.

    Args:
        network: the network params.
        outputs: output channels, background included (``out_channels`` of the cache's classes).
    """
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    if outputs < 2:
        raise ValueError(f"a segmentation network needs at least 2 outputs (background and a class), not {outputs}")
    kind = UNet if net.top_residual_unit or net.num_res_units == 0 else LeanTopUNet
    return kind(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=outputs,
                channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                dropout=net.dropout)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
