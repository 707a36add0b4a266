"""Post-processing of a predicted mask, chosen on validation cases and carried by the model file.

One rule, nnU-Net's: keep only the largest connected foreground component, and only for a
model whose mean validation Dice it raises. A far false-positive island (a second blob a few
centimetres from the lesion) costs little Dice but sets the 95th-percentile Hausdorff distance
to its distance; where the training data hold one structure per image the rule removes it,
and where they hold several the validation Dice falls and the rule is not chosen.

The compress stage decides per model on validation cases only
(``pipeline.compress.postprocessing``); the export stage stores the decision in the ONNX file's
preprocessing specification (``keep_largest_component``, beside the operating point
``foreground_threshold``); ``predict``, the parity Dice and V&V apply it with ``apply`` (``decide``:
operating point then rule, from logits), so what is verified is what runs.

Connected components come from ``scipy.ndimage.label`` with full connectivity (26-neighbours
in 3D: voxels touching at a corner belong to one component, as in MONAI's
``KeepLargestConnectedComponent`` default). MONAI's transform itself needs scikit-image, a
dependency this one rule does not justify.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pipeline.runtime.sliding import to_mask


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


def decide(logits: np.ndarray, spec) -> np.ndarray:
    """The mask a model file's decision gives for its logits ``(classes, *spatial)``: the class per
    voxel at its operating point (``spec.foreground_threshold``), then its post-processing."""
    return apply(to_mask(logits, spec.foreground_threshold), spec)
