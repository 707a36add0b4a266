"""The ONNX inference path: MONAI's sliding windows, bit for bit, and input checks (SRS-EXPORT-003/004)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.inferers import sliding_window_inference

from pipeline.core.errors import UserError
from pipeline.runtime.sliding import check_volume, torch_predict_volume
from pipeline.runtime.spec import WindowSpec


@pytest.mark.verifies("SRS-EXPORT-003")
@pytest.mark.parametrize("shape, overlap", [((1, 30, 25, 17), 0.25), ((1, 10, 40, 5), 0.5), ((1, 16, 16, 8), 0.25)])
def test_sliding_windows_equal_monai_sliding_window_inference(shape, overlap):
    torch.manual_seed(0)
    net = torch.nn.Conv3d(1, 2, 3, padding=1).eval()
    spec = WindowSpec(spatial_dims=3, patch_size=[16, 16, 8], sw_overlap=overlap, sw_batch_size=3)
    volume = np.random.default_rng(0).random(shape, dtype=np.float32)
    ours = torch_predict_volume(net, volume, spec)
    with torch.no_grad():
        monai = sliding_window_inference(torch.from_numpy(volume)[None], [16, 16, 8], 3, net,
                                         overlap=overlap, mode="gaussian")[0].numpy()
    assert ours.shape == monai.shape
    assert np.abs(ours - monai).max() <= 1e-6


@pytest.mark.verifies("SRS-EXPORT-004")
def test_volume_with_infinite_value_is_refused():
    spec = WindowSpec(spatial_dims=3, patch_size=[16, 16, 8], sw_overlap=0.25, sw_batch_size=1)
    volume = np.zeros((1, 8, 8, 8), np.float32)
    volume[0, 1, 2, 3] = np.inf
    with pytest.raises(UserError, match="1 NaN or infinite"):
        check_volume(volume, spec)


@pytest.mark.verifies("SRS-COMP-004")
def test_mask_at_an_operating_point_is_the_foreground_probability_above_it():
    from pipeline.runtime.sliding import margin_of, to_mask

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 6, 5, 4)).astype(np.float32)
    probability = torch.softmax(torch.from_numpy(logits), 0)[1].numpy()
    assert np.array_equal(to_mask(logits), logits.argmax(0))
    for threshold in (0.5, 0.3, 0.15, 0.8):
        assert np.array_equal(to_mask(logits, threshold), (probability > threshold).astype(np.uint8))
    assert margin_of(0.5) == 0.0
    with pytest.raises(ValueError, match="two-class"):
        to_mask(np.zeros((3, 2, 2), np.float32), 0.3)
    with pytest.raises(ValueError, match="inside"):
        margin_of(1.0)


@pytest.mark.verifies("SRS-EXPORT-002")
def test_a_class_change_on_the_operating_point_is_a_tie_and_any_clearer_one_a_mismatch():
    from pipeline.runtime.sliding import decision_differences, margin_of

    margin = margin_of(0.3)
    reference = np.zeros((2, 4), np.float32)
    reference[1] = margin + np.array([-4e-7, 3e-4, -1.0, 0.5], np.float32)  # l1 - l0 against the threshold
    other = reference.copy()
    other[1, 0] += 5e-6  # within tolerance of a tie: crosses the threshold
    assert decision_differences(reference, other, 0.3, 1e-4) == (0, 1)
    assert decision_differences(reference, other, 0.3, 0.0) == (1, 0)  # no tolerance: every change counts
    other[1, 1] -= 6e-4  # decided 3e-4 above the threshold, beyond the 2e-4 tolerance: a mismatch
    assert decision_differences(reference, other, 0.3, 1e-4) == (1, 1)
    assert decision_differences(reference, reference, 0.3, 1e-4) == (0, 0)
    three = np.array([[1.0, 0.0], [1.0 - 1e-5, 2.0], [0.0, 0.0]], np.float32)  # voxel 0: classes 0 and 1 tie
    flipped = three.copy()
    flipped[1, 0] += 2e-5
    assert decision_differences(three, flipped, 0.5, 1e-4) == (0, 1)
    flipped[2, 1] = 3.0  # voxel 1 decided by 2.0: a real change
    assert decision_differences(three, flipped, 0.5, 1e-4) == (1, 1)
