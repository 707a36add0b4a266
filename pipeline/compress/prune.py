"""Structured channel pruning of the teacher with Torch-Pruning.

``prune_channels`` removes ``ratio`` of the channels of every convolution (whole dependency
groups: a convolution's output channels together with the next layer's input channels, the
norms between them, both sides of every skip concatenation and residual addition), ranked
by the L2 norm of the group's weights (``GroupMagnitudeImportance``); the output convolution
keeps its classes. The result is the same MONAI ``UNet`` with fewer channels per layer; its
checkpoint is rebuilt by ``pipeline.nets.checkpoint.load_checkpoint``.

Why the PReLU swap: Torch-Pruning 1.6 cannot infer the channels flowing through MONAI's
single-slope ``PReLU`` into the skip concatenations (its dependency graph fails with a
``TypeError`` in ``update_concat_index_mapping``). A single-slope PReLU computes exactly what
``LeakyReLU`` with that slope computes and owns no channel, so each is swapped for its
``LeakyReLU`` before the graph is built and swapped back, with its learned slope, after
pruning; the pruned network is then fine-tuned like any candidate.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def prune_channels(model: nn.Module, ratio: float, example: torch.Tensor) -> nn.Module:
    """A pruned copy of ``model`` (eval mode, CPU); ``model`` itself is not modified.

    Args:
        model: the trained teacher.
        ratio: share of channels to remove from every prunable layer, in (0, 1).
        example: an input batch of the training patch size (traces the dependency graph).
    """
    import torch_pruning as tp

    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    net = copy.deepcopy(model).cpu().eval()
    slopes = _swap_prelu(net)
    convs = [m for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    pruner = tp.pruner.MetaPruner(net, example.cpu(), importance=tp.importance.GroupMagnitudeImportance(p=2),
                                  pruning_ratio=ratio, ignored_layers=[convs[-1]])
    pruner.step()
    _restore_prelu(net, slopes)
    return net.eval()


def _swap_prelu(net: nn.Module) -> dict[str, torch.Tensor]:
    slopes = {}
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.PReLU) and module.weight.numel() == 1:
            slopes[name] = module.weight.detach().clone()
            _set(net, name, nn.LeakyReLU(negative_slope=float(module.weight.detach().reshape(()))))
    return slopes


def _restore_prelu(net: nn.Module, slopes: dict[str, torch.Tensor]) -> None:
    for name, weight in slopes.items():
        prelu = nn.PReLU(num_parameters=1)
        with torch.no_grad():
            prelu.weight.copy_(weight)
        _set(net, name, prelu)


def _set(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, module)
