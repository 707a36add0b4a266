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
