"""Post-processing of a predicted mask, chosen on validation cases and carried by the model file.

One rule, nnU-Net's: keep only the largest connected foreground component, and only for a
model whose mean validation Dice it raises. A far false-positive island (a second blob a few
centimetres from the lesion) costs little Dice but sets the 95th-percentile Hausdorff distance
to its distance; where the training data hold one structure per image the rule removes it,
and where they hold several the validation Dice falls and the rule is not chosen.

The compress stage decides per model (``decide``) on validation cases only; the export stage
stores the decision in the ONNX file's preprocessing specification
(``keep_largest_component``); ``predict``, the parity Dice and V&V apply it with ``apply``,
so what is verified is what runs.

Connected components come from ``scipy.ndimage.label`` with full connectivity (26-neighbours
in 3D: voxels touching at a corner belong to one component, as in MONAI's
``KeepLargestConnectedComponent`` default). MONAI's transform itself needs scikit-image, a
dependency this one rule does not justify.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from pipeline.verify.metrics import dice


def keep_largest_component(mask: np.ndarray) -> np.ndarray:
    """The mask with every foreground voxel outside the largest connected component set to 0.

    Args:
        mask: label map (any shape); voxels > 0 are foreground.
    Returns:
        a mask of the same shape and dtype (unchanged when it has at most one component).
    """
    mask = np.asarray(mask)
    foreground = mask > 0
    structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim)
    labels, count = ndimage.label(foreground, structure=structure)
    if count <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.where(labels == int(sizes.argmax()), mask, 0).astype(mask.dtype)


def apply(mask: np.ndarray, spec) -> np.ndarray:
    """The post-processing a model file asks for (``spec.keep_largest_component``) applied to ``mask``."""
    if getattr(spec, "keep_largest_component", False):
        return keep_largest_component(mask)
    return np.asarray(mask)


def decide(masks: Sequence[np.ndarray], truths: Sequence[np.ndarray], mode: str = "auto") -> dict:
    """Whether to keep the largest component, from validation masks and their ground truth.

    Args:
        masks: predicted label maps of the validation cases.
        truths: their ground-truth masks.
        mode: ``auto`` (keep it when it raises the mean Dice) or ``never``.
    Returns:
        ``keep_largest_component``, the mean Dice without and with it, the cases it changed,
        and ``val_dice`` (the mean Dice of what is chosen).
    """
    if mode not in ("auto", "never"):
        raise ValueError(f"mode must be 'auto' or 'never', not {mode!r}")
    if len(masks) != len(truths):
        raise ValueError(f"{len(masks)} masks but {len(truths)} ground truths")
    raw, kept, changed = [], [], 0
    for mask, truth in zip(masks, truths):
        largest = keep_largest_component(mask)
        changed += int(not np.array_equal(largest, mask))
        raw.append(dice(mask, truth))
        kept.append(dice(largest, truth))
    without = float(np.mean(raw)) if raw else float("nan")
    with_largest = float(np.mean(kept)) if kept else float("nan")
    keep = mode == "auto" and bool(kept) and with_largest > without
    return {"keep_largest_component": keep, "mode": mode, "cases": len(raw), "cases_changed": changed,
            "val_dice_without": round(without, 6), "val_dice_largest_component": round(with_largest, 6),
            "val_dice": round(with_largest if keep else without, 6)}
