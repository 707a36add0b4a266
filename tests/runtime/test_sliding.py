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
