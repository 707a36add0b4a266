"""The checkpoint format of every network the pipeline trains: ``{"state_dict", "config"}``.

``config["network"]`` holds the ``NetworkParams`` the network was built from. A network whose
channels were pruned (``pipeline.compress.prune``) keeps the same modules with fewer channels
per convolution; its checkpoint says so (``config["pruned"] = True``) and ``load_checkpoint``
rebuilds it by giving each parameter of the base network the shape stored in the state dict
(and each norm layer its recorded ``num_features``), then loading the weights. Loading stays ``weights_only`` (no code from a checkpoint runs),
with ``torch.torch_version.TorchVersion`` allowed because configs record ``torch.__version__``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.nets.unet import build_unet


def save_checkpoint(path: Path, state_dict: dict, config: dict) -> None:
    """Write ``{"state_dict", "config"}`` atomically with ``torch.save``.

    Args:
        path: the checkpoint file (e.g. ``models/teacher.pt``).
        state_dict: CPU tensors of the selected weights.
        config: everything needed to rebuild and use the network (network, patch, spacing...).
    """
    with atomic_file(Path(path), mode="wb") as handle:
        torch.save({"state_dict": state_dict, "config": config}, handle)


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild the network from a checkpoint; return it (eval mode, CPU) with its config."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            blob = torch.load(path, map_location="cpu", weights_only=True)
        state, config = blob["state_dict"], blob["config"]
        model = build_unet(config["network"], int(config.get("out_channels", 2)))
    except (OSError, KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise UserError(f"{path} is not a checkpoint of this pipeline: {type(exc).__name__}: {exc}") from None
    if config.get("pruned"):
        reshape_to(model, state, config.get("norm_features", {}))
    model.load_state_dict(state)
    return model.eval(), config


def norm_features(model: torch.nn.Module) -> dict[str, int]:
    """``num_features`` of every norm layer: what a state dict cannot tell of norms without weights."""
    return {name: int(m.num_features) for name, m in model.named_modules()
            if isinstance(m, torch.nn.modules.batchnorm._NormBase)}


def reshape_to(model: torch.nn.Module, state_dict: dict[str, torch.Tensor],
               features: dict[str, int] | None = None) -> torch.nn.Module:
    """Give every parameter and buffer of ``model`` the shape it has in ``state_dict`` (in place).

    Convolutions also get matching ``in_channels`` / ``out_channels`` attributes, norm layers
    the ``num_features`` recorded in ``features`` (``norm_features`` of the pruned network).
    Only shapes change; ``load_state_dict`` then fills in the values.
    """
    for name, module in model.named_modules():
        for attr, tensor in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            key = f"{name}.{attr}" if name else attr
            if key in state_dict and tuple(state_dict[key].shape) != tuple(tensor.shape):
                new = torch.empty_like(state_dict[key], dtype=tensor.dtype)
                if isinstance(tensor, torch.nn.Parameter):
                    setattr(module, attr, torch.nn.Parameter(new, requires_grad=tensor.requires_grad))
                else:
                    module.register_buffer(attr, new)
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            weight = module.weight
            groups = module.groups
            if module.transposed:
                module.in_channels, module.out_channels = weight.shape[0], weight.shape[1] * groups
            else:
                module.out_channels, module.in_channels = weight.shape[0], weight.shape[1] * groups
        if isinstance(module, torch.nn.modules.batchnorm._NormBase) and name in (features or {}):
            module.num_features = int(features[name])
    return model
