"""Masks with boxes: a lesion and a far island, for the post-processing tests."""

from __future__ import annotations

import numpy as np


def blobs(*boxes, shape=(20, 20, 12)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    for box in boxes:
        mask[box] = 1
    return mask


LESION = np.s_[2:8, 2:8, 2:6]
ISLAND = np.s_[15:17, 15:17, 9:11]


def logits_of(mask: np.ndarray, confidence: float = 4.0) -> np.ndarray:
    """Two-class logits ``(2, *shape)`` whose argmax is ``mask`` (foreground at +confidence)."""
    margin = np.where(np.asarray(mask) > 0, confidence, -confidence).astype(np.float32)
    return np.stack([np.zeros_like(margin), margin])
