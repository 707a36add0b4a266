"""One network window centred on a structure, cut from a preprocessed volume (pure NumPy).

The adversarial perturbation and the membership-inference score both work on the window of the
training patch size centred on the case's ground-truth structure: the region whose segmentation
the device reports, and where the training sampler drew its foreground patches. An image smaller
than the window is padded with zeros, as sliding-window inference pads it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def centred(structure: np.ndarray, roi: Sequence[int]) -> list[tuple[int, int]]:
    """``(low, high)`` per axis of the window of ``roi`` voxels centred on the structure's bounding
    box (on the image centre when the structure is empty), shifted to lie inside the image.

    Args:
        structure: binary mask ``(*spatial)``.
        roi: window size in voxels per axis.
    """
    structure = np.asarray(structure) != 0
    if len(roi) != structure.ndim:
        raise ValueError(f"window of {len(roi)} axes for a {structure.ndim}-D image")
    if structure.any():
        where = np.nonzero(structure)
        centre = [(int(w.min()) + int(w.max())) // 2 for w in where]
    else:
        centre = [n // 2 for n in structure.shape]
    out = []
    for c, size, n in zip(centre, roi, structure.shape):
        size = min(int(size), n)
        low = min(max(c - size // 2, 0), n - size)
        out.append((low, low + size))
    return out


def cut(volume: np.ndarray, window: list[tuple[int, int]], roi: Sequence[int]) -> tuple[np.ndarray, tuple]:
    """The window of ``volume`` (``(channels, *spatial)``) zero-padded to ``roi``, and the slices of
    the padded patch that hold image voxels (``patch[(slice(None), *inner)]``)."""
    pads = [((int(r) - (hi - lo)) // 2, int(r) - (hi - lo) - (int(r) - (hi - lo)) // 2)
            for (lo, hi), r in zip(window, roi)]
    crop = tuple(slice(lo, hi) for lo, hi in window)
    patch = np.pad(np.asarray(volume)[(slice(None), *crop)], [(0, 0), *pads])
    inner = tuple(slice(before, before + hi - lo) for (before, _), (lo, hi) in zip(pads, window))
    return patch, inner


def cross_entropy(logits: np.ndarray, label: np.ndarray) -> float:
    """Mean voxel cross-entropy of ``logits`` ``(classes, *spatial)`` against class indices
    ``label`` ``(*spatial)``: the training loss family, computed in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    label = np.asarray(label).astype(np.int64)
    if logits.shape[1:] != label.shape:
        raise ValueError(f"logits {logits.shape} do not match the label {label.shape}")
    if label.size and (label.min() < 0 or label.max() >= logits.shape[0]):
        raise ValueError(f"label values outside 0..{logits.shape[0] - 1}")
    top = logits.max(axis=0)
    log_norm = top + np.log(np.exp(logits - top).sum(axis=0))
    picked = np.take_along_axis(logits, label[None], axis=0)[0]
    return float(np.mean(log_norm - picked))
