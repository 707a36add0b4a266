"""The overlap measure every consumer of a prediction shares: Dice of two binary masks.

Export (parity Dice), compress (post-processing choice, candidate comparison) and verify all
compute it; it lives here, beside the inference path, so that they cannot disagree.
"""

from __future__ import annotations

import numpy as np


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice similarity coefficient 2|P∩T| / (|P| + |T|); 1.0 when both are empty.

    Args:
        pred: predicted binary mask (any non-zero voxel is foreground).
        truth: ground-truth binary mask on the same grid.
    """
    pred, truth = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {truth.shape}")
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


def class_dice(pred: np.ndarray, truth: np.ndarray, labels: int) -> list[float]:
    """Dice of each foreground class 1..labels-1 of two label maps (``dice`` of ``pred == c``, ``truth == c``).

    Args:
        pred: predicted label map (class indices).
        truth: ground-truth label map on the same grid.
        labels: the model's classes, background included (its output channels).
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if labels == 2:  # binary: the foreground as every non-zero voxel, exactly as ``dice``
        return [dice(pred, truth)]
    return [dice(pred == c, truth == c) for c in range(1, labels)]


def mean_dice(pred: np.ndarray, truth: np.ndarray, labels: int) -> float:
    """The mean of ``class_dice`` over the foreground classes: for a binary model its one Dice."""
    values = class_dice(pred, truth, labels)
    return values[0] if len(values) == 1 else float(sum(values) / len(values))
