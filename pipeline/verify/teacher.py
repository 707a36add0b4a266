"""The torch teacher for the verify stage's gradient work (explanations, adversarial perturbations).

The released teacher ONNX file records the SHA-256 of the weights it was exported from
(``weights_sha256``); a checkpoint whose weights hash otherwise is another network, and whatever
was computed with it would describe another model than the one that ships.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.core.errors import UserError


def load_checked(checkpoint: Path, expected_weights: str | None, consequence: str) -> tuple[torch.nn.Module, dict, str]:
    """The teacher network (eval mode), its config and its weights' SHA-256.

    Args:
        checkpoint: the torch teacher checkpoint.
        expected_weights: ``weights_sha256`` of the teacher ONNX metadata (None or ``unknown``: not checked).
        consequence: what a mismatch would mean, for the error message.
    """
    from pipeline.nets.checkpoint import load_checkpoint
    from pipeline.recipe.determinism import weights_sha256

    net, config = load_checkpoint(Path(checkpoint))
    actual = weights_sha256(net.state_dict())
    if expected_weights and expected_weights != "unknown" and actual != expected_weights:
        raise UserError(f"{checkpoint} is not the network the teacher ONNX file was exported from "
                        f"(weights SHA-256 {actual[:12]} != {expected_weights[:12]} in the ONNX "
                        f"metadata): {consequence}")
    return net.eval(), config, actual
