"""Lesion measurement on the input grid: connected components, exact volumes, centroids, boxes (SRS-PRED-001)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.predict.lesions import measure, summary_line

LABELS = ["background", "lesion"]


@pytest.mark.verifies("SRS-PRED-001")
def test_two_cubes_on_an_anisotropic_grid_have_their_exact_volumes():
    mask = np.zeros((40, 30, 12), dtype=np.uint8)
    mask[2:12, 3:13, 1:5] = 1  # 10 x 10 x 4 voxels = 5 x 8 x 10 mm = 0.4 mL
    mask[20:26, 20:25, 7:9] = 1  # 6 x 5 x 2 voxels = 3 x 4 x 5 mm = 0.06 mL
    affine = np.diag([0.5, 0.8, 2.5, 1.0])
    out = measure(mask, affine, LABELS)
    assert out["connectivity"] == 26 and out["voxel_mm3"] == pytest.approx(1.0)
    assert [x["voxels"] for x in out["lesions"]] == [400, 60]
    assert [x["volume_ml"] for x in out["lesions"]] == [0.4, 0.06]
    assert [x["index"] for x in out["lesions"]] == [1, 2]  # largest first
    assert out["total"] == {"lesions": 2, "voxels": 460, "volume_ml": 0.46}


@pytest.mark.verifies("SRS-PRED-001")
def test_centroid_and_bounding_box_are_in_world_millimetres():
    mask = np.zeros((10, 10, 10), dtype=np.uint8)
    mask[2:6, 4:6, 1:4] = 1
    affine = np.array([[0, 0, 2.0, -10], [0.5, 0, 0, 5], [0, -1.0, 0, 20], [0, 0, 0, 1]])  # permuted, flipped
    lesion = measure(mask, affine, LABELS)["lesions"][0]
    assert lesion["centroid_voxel"] == [3.5, 4.5, 2.0]
    assert lesion["centroid_mm"] == [2.0 * 2.0 - 10, 0.5 * 3.5 + 5, -4.5 + 20]
    assert lesion["bbox_voxel"] == {"min": [2, 4, 1], "max": [5, 5, 3]}
    assert lesion["bbox_mm"] == {"min": [-8.0, 6.0, 15.0], "max": [-4.0, 7.5, 16.0]}
    assert lesion["volume_ml"] == round(24 * 1.0 / 1000, 6)


@pytest.mark.verifies("SRS-PRED-001")
def test_voxels_touching_only_at_a_corner_are_one_lesion_with_26_connectivity():
    mask = np.zeros((6, 6, 6), dtype=np.uint8)
    mask[1, 1, 1] = mask[2, 2, 2] = 1  # corner neighbours: one lesion
    mask[4, 4, 4] = 1  # two voxels away: another
    out = measure(mask, np.eye(4), LABELS)
    assert out["total"]["lesions"] == 2 and [x["voxels"] for x in out["lesions"]] == [2, 1]


@pytest.mark.verifies("SRS-PRED-001")
def test_an_empty_mask_reports_no_lesion_and_zero_volume():
    out = measure(np.zeros((4, 4, 4), dtype=np.uint8), np.diag([0.7, 0.7, 3.0, 1.0]), LABELS)
    assert out["lesions"] == [] and out["total"] == {"lesions": 0, "voxels": 0, "volume_ml": 0.0}
    assert summary_line(out) == "0 lesion(s), 0.00 mL"


@pytest.mark.verifies("SRS-PRED-001")
def test_2d_masks_report_areas_with_8_connectivity():
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[1:4, 1:3] = 1
    mask[4, 3] = 1  # diagonal neighbour of (3, 2)
    out = measure(mask, np.diag([0.5, 0.5, 1.0]), LABELS)
    assert out["connectivity"] == 8 and out["total"]["lesions"] == 1
    assert out["total"]["area_mm2"] == 7 * 0.25 and out["total"]["volume_ml"] is None


@pytest.mark.verifies("SRS-PRED-001")
def test_several_classes_are_measured_separately():
    mask = np.zeros((8, 8, 8), dtype=np.uint8)
    mask[1:3, 1:3, 1:3] = 1
    mask[3:5, 1:3, 1:3] = 2  # touches class 1 but is another structure
    out = measure(mask, np.eye(4), ["background", "tumour", "cyst"])
    assert [(x["label"], x["voxels"]) for x in out["lesions"]] == [("tumour", 8), ("cyst", 8)]
    assert out["per_label"]["cyst"]["volume_ml"] == 0.008
