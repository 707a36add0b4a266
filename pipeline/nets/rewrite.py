"""The copy of a network that is exported: same function, ops that ONNX Runtime runs well.

Two module swaps, each computing exactly what it replaces (the export stage's parity gate
checks the exported file against the unmodified PyTorch model):

* input-statistics instance norms -> ``AccurateInstanceNorm`` (``stable_norm``): ONNX
  Runtime's own kernel lost the 1e-4 logit parity on windows of uniform background;
* single-slope ``PReLU`` (MONAI's default activation) -> ``LeakyReLU`` with the learned slope
  as a constant: ``max(x, 0) + a * min(x, 0)`` either way, but ONNX Runtime runs ``PRelu``
  through its general broadcasting path and ``LeakyRelu`` as a plain unary activation.
"""

from __future__ import annotations

import copy

from torch import nn

from pipeline.nets.stable_norm import AccurateInstanceNorm, uses_input_statistics


def _single_slope_prelu(module: nn.Module) -> bool:
    return isinstance(module, nn.PReLU) and module.weight.numel() == 1


def _replacement(module: nn.Module) -> nn.Module | None:
    if uses_input_statistics(module):
        return AccurateInstanceNorm(module)
    if _single_slope_prelu(module):
        return nn.LeakyReLU(negative_slope=float(module.weight.detach().reshape(())))
    return None


def for_export(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval mode) with the swaps above; ``model`` itself is not modified.

    A model with nothing to swap is returned as is.
    """
    if not any(uses_input_statistics(m) or _single_slope_prelu(m) for m in model.modules()):
        return model
    clone = copy.deepcopy(model).eval()
    top = _replacement(clone)
    if top is not None:
        return top
    for name, module in list(clone.named_modules()):
        new = _replacement(module)
        if new is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(clone.get_submodule(parent_name) if parent_name else clone, child, new)
    return clone
