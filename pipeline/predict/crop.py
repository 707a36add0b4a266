"""Work on the foreground's bounding box only: post-processing and lesion labelling of large masks.

A lesion mask on a 512x512x400 CT is a few thousand voxels in a hundred million. Connected
component labelling (``scipy.ndimage.label``) writes an int32 label per voxel, 4 bytes for each
of the hundred million, although every component lies inside the bounding box of the
foreground. Labelling that box instead gives the same components in the same order (the box's
raster order is the volume's), so the same largest component and the same lesions, in a
fraction of the memory.
"""

from __future__ import annotations

import numpy as np

from pipeline.runtime import postprocess


def foreground_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every voxel ``> 0`` of ``mask``, or ``None`` when there is none."""
    mask = np.asarray(mask)
    box: list[slice] = []
    view = mask
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(np.any(view, axis=others) if others else view)
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
        view = mask[tuple(box)]  # later axes only look inside the box found so far
    return tuple(box)


def postprocess_in_box(mask: np.ndarray, spec) -> np.ndarray:
    """``pipeline.runtime.postprocess.apply`` (the model file's rule) run on the foreground's box.

    Equal to ``postprocess.apply(mask, spec)`` voxel for voxel; ``mask`` is modified in place and
    returned (outside the box it is background either way).
    """
    mask = np.asarray(mask)
    box = foreground_box(mask)
    if box is None or not getattr(spec, "keep_largest_component", False):
        return mask
    mask[box] = postprocess.apply(mask[box], spec)
    return mask
