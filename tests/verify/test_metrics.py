"""Metric functions against hand-computed cases: empty masks, single voxels, anisotropic spacing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.verify import metrics

pytestmark = pytest.mark.verifies("SRS-VNV-002")


def _mask(shape=(8, 8, 8), *voxels):
    out = np.zeros(shape, dtype=np.uint8)
    for v in voxels:
        out[v] = 1
    return out


def test_dice_counts_overlap():
    truth = _mask((4, 4, 4), (0, 0, 0), (0, 0, 1))
    pred = _mask((4, 4, 4), (0, 0, 1), (0, 0, 2), (0, 0, 3))
    assert metrics.dice(pred, truth) == pytest.approx(2 * 1 / (3 + 2))


def test_both_masks_empty_is_perfect_agreement():
    empty = _mask()
    values = metrics.all_metrics(empty, empty, [1.0, 1.0, 2.5], tolerance_mm=1.0)
    assert values["dice"] == 1.0 and values["nsd"] == 1.0 and values["hd95_mm"] == 0.0
    assert values["abs_volume_error_ml"] == 0.0 and math.isnan(values["sensitivity"])
    assert values["specificity"] == 1.0


def test_one_empty_mask_gives_the_worst_defined_values():
    truth = _mask((5, 5, 3), (1, 1, 1))
    empty = _mask((5, 5, 3))
    spacing = [2.0, 1.0, 3.0]
    values = metrics.all_metrics(empty, truth, spacing, tolerance_mm=1.0)
    assert values["dice"] == 0.0 and values["nsd"] == 0.0 and values["sensitivity"] == 0.0
    assert values["hd95_mm"] == pytest.approx(math.sqrt(8.0**2 + 4.0**2 + 6.0**2))
    assert values["abs_volume_error_ml"] == pytest.approx(2.0 * 1.0 * 3.0 / 1000.0)
    # prediction only: sensitivity is not defined (no positives), specificity drops
    swapped = metrics.all_metrics(truth, empty, spacing, tolerance_mm=1.0)
    assert math.isnan(swapped["sensitivity"]) and swapped["specificity"] == pytest.approx(74 / 75)


def test_one_voxel_structures_distance_follows_anisotropic_spacing():
    truth = _mask((6, 6, 8), (2, 2, 2))
    pred = _mask((6, 6, 8), (2, 2, 5))  # 3 voxels apart along the 2.5 mm axis
    spacing = [0.7, 0.7, 2.5]
    assert metrics.hd95_mm(pred, truth, spacing) == pytest.approx(7.5)
    assert metrics.nsd(pred, truth, spacing, tolerance_mm=7.5) == pytest.approx(1.0)
    assert metrics.nsd(pred, truth, spacing, tolerance_mm=7.4) == pytest.approx(0.0)
    assert metrics.dice(pred, truth) == 0.0
    assert metrics.abs_volume_error_ml(pred, truth, spacing) == 0.0


def test_identical_one_voxel_structures_are_perfect():
    one = _mask((5, 5, 5), (2, 2, 2))
    values = metrics.all_metrics(one, one, [1.0, 1.0, 1.0], tolerance_mm=0.0)
    assert values["dice"] == 1.0 and values["hd95_mm"] == 0.0 and values["nsd"] == 1.0
    assert values["sensitivity"] == 1.0 and values["specificity"] == 1.0


def test_shifted_cube_distance_is_the_shift_in_mm_on_the_shifted_axis():
    truth = np.zeros((20, 20, 20), dtype=np.uint8)
    truth[5:15, 5:15, 5:15] = 1
    pred = np.roll(truth, 2, axis=2)
    spacing = [0.5, 1.0, 3.0]
    assert metrics.hd95_mm(pred, truth, spacing) == pytest.approx(6.0)
    assert metrics.dice(pred, truth) == pytest.approx(0.8)
    assert metrics.nsd(pred, truth, spacing, tolerance_mm=6.0) == pytest.approx(1.0)
    assert metrics.nsd(pred, truth, spacing, tolerance_mm=5.9) < 1.0
    assert metrics.sensitivity(pred, truth) == pytest.approx(0.8)


def test_volume_error_in_millilitres():
    truth = np.zeros((10, 10, 10), dtype=np.uint8)
    truth[:5, :4] = 1  # 200 voxels
    pred = np.zeros_like(truth)
    pred[:5, :2] = 1  # 100 voxels
    assert metrics.abs_volume_error_ml(pred, truth, [2.0, 2.0, 2.5]) == pytest.approx(100 * 10.0 / 1000)


def test_shape_and_spacing_mismatch_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        metrics.dice(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="spacing"):
        metrics.all_metrics(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), [1.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="tolerance"):
        metrics.nsd(np.ones((2, 2, 2)), np.ones((2, 2, 2)), [1, 1, 1], -1.0)


def test_2d_surfaces_follow_the_pixel_spacing_and_volumes_are_not_defined():
    truth = np.zeros((20, 20), dtype=np.uint8)
    truth[5:15, 5:15] = 1
    pred = np.roll(truth, 2, axis=1)
    spacing = [0.5, 1.5]
    values = metrics.all_metrics(pred, truth, spacing, tolerance_mm=3.0)
    assert values["dice"] == pytest.approx(0.8) and values["hd95_mm"] == pytest.approx(3.0)
    assert values["nsd"] == pytest.approx(1.0) and metrics.nsd(pred, truth, spacing, 2.9) < 1.0
    assert all(math.isnan(values[k]) for k in ("abs_volume_error_ml", "volume_pred_ml", "volume_truth_ml"))
    assert set(metrics.undefined_metrics(2)) == {"abs_volume_error_ml"} and metrics.undefined_metrics(3) == {}


@pytest.mark.parametrize("spacing", [[1.0, 1.0, 1.0], [0.7, 1.3, 2.5]])
def test_cropping_to_the_union_leaves_surface_metrics_bit_identical(spacing):
    """hd95 and NSD are computed on the masks cut to their union's box (``crop_to_union``); MONAI's
    own crop of the whole volumes gives the same values exactly, also where a mask touches the
    grid's border and with a far island."""
    import torch
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice

    rng = np.random.default_rng(7)
    for _ in range(6):
        truth = np.zeros((24, 20, 16), dtype=bool)
        lo = rng.integers(0, 8, size=3)
        truth[lo[0]:lo[0] + 9, lo[1]:lo[1] + 7, lo[2]:lo[2] + 5] = True
        pred = np.roll(truth, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 3)))
        pred[tuple(int(rng.integers(0, n)) for n in pred.shape)] = True
        pred[0, 0, :2] = True  # on the border: MONAI's crop pads there
        whole = [torch.from_numpy(m.astype(np.float32))[None, None] for m in (pred, truth)]
        hd = float(compute_hausdorff_distance(*whole, include_background=True, percentile=95.0, spacing=spacing))
        sd = float(compute_surface_dice(*whole, class_thresholds=[2.5], include_background=True, spacing=spacing))
        assert metrics.hd95_mm(pred, truth, spacing) == hd
        assert metrics.nsd(pred, truth, spacing, 2.5) == sd
        cut_pred, cut_truth = metrics.crop_to_union(pred, truth)
        assert cut_pred.sum() == pred.sum() and cut_truth.sum() == truth.sum()


def test_surface_metrics_restore_the_torch_thread_count():
    import torch

    before = torch.get_num_threads()
    metrics.hd95_mm(_mask((6, 6, 6), (2, 2, 2)), _mask((6, 6, 6), (3, 3, 3)), [1.0, 1.0, 1.0])
    assert torch.get_num_threads() == before
