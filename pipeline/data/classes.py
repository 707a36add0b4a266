"""The label map a source declares (``preprocess.source.classes``), applied to its label values.

Pure functions, shared by the readers: source label values (MSD label values, mask pixel values,
DICOM SEG segment numbers) become class indices 0..N, class 0 the background. A value no class
lists is background; the readers report such values (``Case.unmapped``) and the fingerprint lists
them, so a forgotten structure is visible rather than silently learnt as background.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def map_values(values: np.ndarray, classes: Sequence) -> tuple[np.ndarray, tuple[str, ...]]:
    """The label map (uint8, 0..N) of a source label array, and the non-zero source values no class lists.

    Args:
        values: the source's label values (any integer array; non-negative).
        classes: the declared classes (``name``, ``values``), class ``i + 1`` for ``classes[i]``;
            a single class without ``values`` takes every value > 0.
    """
    values = np.asarray(values)
    if len(classes) == 1 and classes[0].values is None:
        return (values > 0).astype(np.uint8), ()
    mask = np.zeros(values.shape, dtype=np.uint8)
    listed: set[int] = set()
    for index, cls in enumerate(classes, start=1):
        mask[np.isin(values, cls.values)] = index
        listed.update(int(v) for v in cls.values)
    present = {int(v) for v in np.unique(values)}
    return mask, tuple(str(v) for v in sorted(present - listed - {0}))


def segment_numbers(found: dict[str, int], classes: Sequence) -> tuple[list[int] | None, np.ndarray, tuple[str, ...]]:
    """What to read of a DICOM SEG and how its segment numbers become class indices.

    Args:
        found: SegmentLabel -> SegmentNumber of the SEG's segments.
        classes: the declared classes, their ``values`` segment labels.
    Returns:
        the segment numbers to read (None: all), a lookup table segment number -> class index,
        and the labels of the SEG's segments no class lists (read as background).
    Raises:
        ValueError: a listed segment label the SEG does not have.
    """
    top = max(found.values(), default=0)
    if len(classes) == 1 and classes[0].values is None:
        lut = np.ones(max(top, 0) + 1, dtype=np.uint8)
        lut[0] = 0
        return None, lut, ()
    wanted = [label for cls in classes for label in cls.values]
    missing = [label for label in wanted if label not in found]
    if missing:
        raise ValueError(f"SEG has no segment(s) {missing}; it has {sorted(found)}")
    lut = np.zeros(top + 1, dtype=np.uint8)
    for index, cls in enumerate(classes, start=1):
        for label in cls.values:
            lut[found[label]] = index
    unlisted = tuple(sorted(label for label in found if label not in wanted))
    return [found[label] for label in wanted], lut, unlisted
