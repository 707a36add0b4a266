"""Load a train-stage checkpoint (``{"state_dict", "config"}``) safely, for compress and export.

A thin adapter over ``pipeline.train.model.load_checkpoint``: loading stays ``weights_only``
(no arbitrary code from a checkpoint), with ``torch.torch_version.TorchVersion`` allowed,
because the training config records ``torch.__version__``, which is of that type.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.train.model import load_checkpoint


def load_model(path: Path) -> tuple[torch.nn.Module, dict]:
    """The network (eval mode) and its config from a checkpoint file.

    Args:
        path: e.g. ``models/teacher.pt`` or ``models/student.pt``.
    """
    with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
        return load_checkpoint(Path(path))
