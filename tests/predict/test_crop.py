"""Post-processing and lesion labelling on the foreground's box equal the whole-volume rule (SRS-COMP-004)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.predict import crop, lesions
from pipeline.runtime import postprocess
from tests.export import tiny
from tests.runtime.masks import ISLAND, LESION, blobs

CORNER = np.s_[8:9, 8:9, 6:7]  # touches the lesion's corner voxel diagonally
TIE = np.s_[12:18, 12:18, 6:10]  # as large as the lesion: the first in scan order wins


@pytest.mark.verifies("SRS-COMP-004")
@pytest.mark.parametrize("boxes", [(), (LESION,), (LESION, ISLAND), (LESION, CORNER, ISLAND), (TIE, LESION)])
@pytest.mark.parametrize("keep", [True, False])
def test_postprocess_in_box_equals_the_rule_on_the_whole_mask(boxes, keep):
    mask = blobs(*boxes)
    spec = tiny.spec(3, keep_largest_component=keep)
    expected = postprocess.apply(mask.copy(), spec)
    np.testing.assert_array_equal(crop.postprocess_in_box(mask.copy(), spec), expected)


@pytest.mark.verifies("SRS-COMP-004")
def test_foreground_box_is_the_tightest_box():
    mask = blobs(LESION, ISLAND)
    assert crop.foreground_box(mask) == (slice(2, 17), slice(2, 17), slice(2, 11))
    assert crop.foreground_box(np.zeros((4, 5), dtype=np.uint8)) is None
    assert crop.foreground_box(np.array([0, 0, 3, 0])) == (slice(2, 3),)


@pytest.mark.verifies("SRS-PRED-001")
def test_lesions_measured_in_the_box_are_those_of_the_whole_grid():
    mask = blobs(LESION, ISLAND, np.s_[10:12, 3:5, 9:12])
    affine = np.array([[0, 0, 2.0, -10], [0.5, 0, 0, 5], [0, -1.0, 0, 20], [0, 0, 0, 1]])
    found = lesions.measure(mask, affine, ["background", "lesion"])
    assert [x["voxels"] for x in found["lesions"]] == [144, 12, 8]
    first = found["lesions"][0]
    assert first["bbox_voxel"] == {"min": [2, 2, 2], "max": [7, 7, 5]}
    assert first["centroid_voxel"] == [4.5, 4.5, 3.5]
    assert found["lesions"][1]["bbox_voxel"] == {"min": [10, 3, 9], "max": [11, 4, 11]}
