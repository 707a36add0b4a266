"""The segmentation network: MONAI's ``UNet``, built from its params (``train.network``).

Shared by train (the teacher), compress (students and the pruned teacher) and export; the
checkpoint format is in ``pipeline.nets.checkpoint``.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution, ResidualUnit
from monai.networks.nets import UNet

from pipeline.nets.params import NetworkParams, check_levels  # noqa: F401 (check_levels: re-exported)

IN_CHANNELS = 1
OUT_CHANNELS = 2  # a binary label map (background, one class): the default; N classes give N + 1


def out_channels(classes: list[str]) -> int:
    """Output channels for a label map of these foreground classes: background + one per class."""
    return 1 + len(classes)


class VariantUNet(UNet):
    """MONAI's ``UNet`` with three options MONAI does not offer; every other layer is MONAI's.

    ``top_residual_unit=False``: no residual unit after the last up-sampling. With
    ``num_res_units`` > 0 MONAI follows the top transposed convolution with a residual unit whose
    convolution maps the output channels to themselves at full resolution. On the slim student
    that one 2-to-2 channel convolution took 9 of 41 ms per batch of four windows on ONNX Runtime
    (profiled 2026-11-27: im2col of a full-resolution volume for 108 multiply-adds a voxel), the
    most expensive layer of the network. Here the top up layer is the transposed convolution
    alone, without norm or activation (what MONAI builds when ``num_res_units`` is 0).

    ``up_kernels`` (one per level, from the top): a 2 is a transposed convolution with kernel 2
    and stride 2 (no padding), so each voxel up-samples to its own 2x2x2 block, as in nnU-Net.
    MONAI's ``Convolution`` computes "same" padding, which an even kernel does not have, so its
    ``UNet`` refuses kernel 2; with the padding given (0, output padding 0) MONAI's block builds
    it. On the lean student the three kernel-3 transposed convolutions took 8.4 of 28.5 ms per
    batch on ONNX Runtime (profiled 2026-11-27, ``nn.ConvTranspose3d`` is GEMM + col2im there),
    the top one alone 4.4 ms.

    ``encoder_depths`` (one per level, from the top; the last is the bottom block): the
    convolutions of each encoder residual unit, where MONAI gives every level ``num_res_units``.
    A lean student with one convolution per level under-segmented large lesions (on 300 cases of
    two generated development cohorts its paired Dice drop against the teacher was +0.0096, +0.0001
    with two); the second convolution of the top level, on 8 channels at half resolution, cost a
    third of that student's time per window, the deeper ones little (ONNX Runtime, 2026-11-27).
    """

    def __init__(self, *args, top_residual_unit: bool = True, up_kernels: list[int] | None = None,
                 encoder_depths: list[int] | None = None, top_norm: str | None = None, **kwargs) -> None:
        # read by _get_up_layer and _get_down_layer, which UNet.__init__ calls once per level (and
        # _get_down_layer once more for the bottom block), the deepest first
        self.top_residual_unit = top_residual_unit
        self.up_kernels = list(up_kernels) if up_kernels is not None else [3] * len(kwargs["strides"])
        self.encoder_depths = list(encoder_depths) if encoder_depths is not None else None
        self.top_norm = top_norm
        self._levels_built = 0
        self._encoders_built = 0
        super().__init__(*args, **kwargs)

    def _get_down_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> torch.nn.Module:
        self._encoders_built += 1
        norm = self.top_norm if is_top and self.top_norm else self.norm
        if self.num_res_units == 0:
            return Convolution(self.dimensions, in_channels, out_channels, strides=strides,
                               kernel_size=self.kernel_size, act=self.act, norm=norm, dropout=self.dropout,
                               bias=self.bias, adn_ordering=self.adn_ordering)
        depth = (self.num_res_units if self.encoder_depths is None
                 else self.encoder_depths[len(self.encoder_depths) - self._encoders_built])  # the bottom comes first
        return ResidualUnit(self.dimensions, in_channels, out_channels, strides=strides, kernel_size=self.kernel_size,
                            subunits=depth, act=self.act, norm=norm, dropout=self.dropout, bias=self.bias,
                            adn_ordering=self.adn_ordering)

    def _get_up_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> torch.nn.Module:
        self._levels_built += 1
        kernel = self.up_kernels[len(self.up_kernels) - self._levels_built]  # the deepest level comes first
        lean_top = is_top and has_lean_top(self.top_residual_unit, self.num_res_units)
        if kernel == 3 and not lean_top:
            return super()._get_up_layer(in_channels, out_channels, strides, is_top)
        padding = {} if kernel == 3 else {"padding": 0, "output_padding": 0}
        conv = Convolution(self.dimensions, in_channels, out_channels, strides=strides, kernel_size=kernel,
                           act=self.act, norm=self.norm, dropout=self.dropout, bias=self.bias,
                           conv_only=is_top and (lean_top or self.num_res_units == 0),
                           is_transposed=True, adn_ordering=self.adn_ordering, **padding)
        if self.num_res_units == 0 or lean_top:
            return conv
        unit = ResidualUnit(self.dimensions, out_channels, out_channels, strides=1, kernel_size=self.kernel_size,
                            subunits=1, act=self.act, norm=self.norm, dropout=self.dropout, bias=self.bias,
                            last_conv_only=is_top, adn_ordering=self.adn_ordering)
        return torch.nn.Sequential(conv, unit)


def has_lean_top(top_residual_unit: bool, num_res_units: int) -> bool:
    """Whether the last up-sampling drops its residual unit (only a residual network has one)."""
    return not top_residual_unit and num_res_units > 0


def build_unet(network: NetworkParams | dict, outputs: int = OUT_CHANNELS) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint);
    a ``VariantUNet`` when the top unit is dropped, an up-sampling kernel is 2 or the encoder's
    depth varies by level.

    Args:
        network: the network params.
        outputs: output channels, background included (``out_channels`` of the cache's classes).
    """
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    if outputs < 2:
        raise ValueError(f"a segmentation network needs at least 2 outputs (background and a class), not {outputs}")
    common = dict(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=outputs,
                  channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                  dropout=net.dropout, norm=net.norm)
    uniform = set(net.encoder_depths()) == {net.num_res_units}
    top_norm = net.top_norm if net.top_norm not in (None, net.norm) else None
    if (not has_lean_top(net.top_residual_unit, net.num_res_units) and set(net.up_kernels()) == {3} and uniform
            and top_norm is None):
        return UNet(**common)
    return VariantUNet(**common, top_residual_unit=net.top_residual_unit, up_kernels=net.up_kernels(),
                       encoder_depths=None if uniform else net.encoder_depths(), top_norm=top_norm)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
