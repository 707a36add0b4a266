"""An L-inf bounded gradient-sign attack on the torch teacher (FGSM; PGD with more steps).

The released ONNX files have no gradients, so the perturbation is computed on the PyTorch
teacher that the teacher ONNX file was exported from (the verify stage checks the checkpoint's
weights against the file's metadata, and the export parity gate ties their outputs) and then
run through the shipped ONNX path of every released model: a white-box attack on the teacher,
a transfer attack on the compressed model. The attack maximises the cross-entropy against the
ground truth on the training-patch window centred on the structure (``pipeline.verify.window``),
the region whose segmentation the device reports; voxels outside that window are not changed.
Without random start the attack is deterministic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.verify import perturb, window
from pipeline.verify.perturb import Bounds


def attack(net: torch.nn.Module, image: np.ndarray, label: np.ndarray, roi: Sequence[int], epsilon: float,
           steps: int = 1, bounds: Bounds = None) -> np.ndarray:
    """A perturbed copy of ``image`` with ``|delta| <= epsilon`` inside the window around the structure.

    Args:
        net: the torch network (eval mode; its weights are not changed).
        image: ``(channels, *spatial)`` preprocessed image.
        label: ``(*spatial)`` ground-truth class indices.
        roi: the network's window size (the training patch size).
        epsilon: L-inf budget in normalised intensity units (> 0).
        steps: 1 = FGSM (one step of ``epsilon``); more = PGD with steps of ``2.5 * epsilon / steps``.
        bounds: clip to the range the preprocessing produces (None: no clipping).
    """
    if not epsilon > 0 or steps < 1:
        raise ValueError(f"epsilon must be > 0 and steps >= 1, got {epsilon} and {steps}")
    image = np.asarray(image, dtype=np.float32)
    label = np.asarray(label)
    box = window.centred(label != 0, roi)
    patch, inner = window.cut(image, box, roi)
    truth, _ = window.cut(label[None].astype(np.int64), box, roi)
    x0 = torch.from_numpy(np.ascontiguousarray(patch[None]))
    target = torch.from_numpy(np.ascontiguousarray(truth))  # (1, *roi): the batch of one
    step = epsilon if steps == 1 else 2.5 * epsilon / steps
    x = x0.clone()
    net = net.eval()
    with torch.enable_grad():
        for _ in range(steps):
            x.requires_grad_(True)
            loss = F.cross_entropy(net(x), target)
            (grad,) = torch.autograd.grad(loss, x)
            x = x.detach() + step * grad.sign()
            x = torch.clamp(x, x0 - epsilon, x0 + epsilon)
    delta = (x - x0).detach().numpy()[0][(slice(None), *inner)]
    out = image.copy()
    out[(slice(None), *(slice(lo, hi) for lo, hi in box))] += delta
    return perturb.clip(out, bounds)
