"""The network, the loss and the checkpoint format shared by train, compress and export."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.losses import DiceCELoss
from monai.networks.nets import UNet

from pipeline.atomic import atomic_file
from pipeline.train.params import NetworkParams

IN_CHANNELS = 1
OUT_CHANNELS = 2  # background, foreground


def build_unet(network: NetworkParams | dict) -> UNet:
    """A MONAI ``UNet`` from the ``train.network`` params (or their dict form in a checkpoint)."""
    net = network if isinstance(network, NetworkParams) else NetworkParams.model_validate(network)
    return UNet(spatial_dims=net.spatial_dims, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS,
                channels=net.channels, strides=net.strides, num_res_units=net.num_res_units,
                dropout=net.dropout)


def build_loss(batch_dice: bool = False) -> DiceCELoss:
    """Dice + cross-entropy on softmax outputs against integer labels.

    Args:
        batch_dice: compute the Dice term over the whole batch instead of per patch (steadier
            for small structures and for patches without foreground).
    """
    return DiceCELoss(to_onehot_y=True, softmax=True, batch=batch_dice)


def save_checkpoint(path: Path, state_dict: dict, config: dict) -> None:
    """Write ``{"state_dict", "config"}`` atomically with ``torch.save``.

    Args:
        path: the checkpoint file (e.g. ``models/teacher.pt``).
        state_dict: CPU tensors of the selected weights.
        config: everything needed to rebuild and use the network (network, patch, spacing...).
    """
    with atomic_file(Path(path), mode="wb") as handle:
        torch.save({"state_dict": state_dict, "config": config}, handle)


def load_checkpoint(path: Path) -> tuple[UNet, dict]:
    """Rebuild the network from a checkpoint; return it (eval mode) with its config."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = build_unet(blob["config"]["network"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), blob["config"]
