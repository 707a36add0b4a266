"""The operating point a model file carries is the one predict applies (SRS-COMP-004)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.predict.run import predict
from tests.export import tiny

AFFINE = np.diag([1.5, 1.5, 3.0, 1.0])


def _box_ct(tmp_path):
    volume = np.full((24, 22, 12), -1000.0, dtype=np.float32)
    volume[3:-3, 3:-3, 2:-2] = 40.0
    truth = np.zeros(volume.shape, dtype=np.uint8)
    truth[8:16, 7:15, 4:8] = 1
    volume[truth > 0] = 200.0
    nib.save(nib.Nifti1Image(volume.astype(np.int16), AFFINE), tmp_path / "ct.nii.gz")
    return tmp_path / "ct.nii.gz", truth


@pytest.mark.verifies("SRS-COMP-004")
@pytest.mark.parametrize("threshold, expect_box", [(0.5, False), (0.3, True)])
def test_predict_applies_the_models_foreground_threshold(tmp_path, threshold, expect_box):
    ct, truth = _box_ct(tmp_path)
    box = (200.0 + 150.0) / 400.0
    level = box - np.log(0.35 / 0.65) / 20.0  # the box's foreground probability is 0.35
    spec = tiny.spec(3, foreground_threshold=threshold)
    model = tiny.export_model(tiny.Threshold(3, level=level), tmp_path / "m.onnx", spec)
    predict(model, ct, tmp_path / "mask.nii.gz", threads=1)
    mask = np.asarray(nib.load(tmp_path / "mask.nii.gz").dataobj)
    np.testing.assert_array_equal(mask, truth if expect_box else np.zeros_like(truth))


@pytest.mark.verifies("SRS-COMP-004")
def test_a_threshold_needs_a_two_class_model_and_lies_inside_zero_one():
    with pytest.raises(ValidationError, match="two-class"):
        tiny.spec(3, foreground_threshold=0.3, labels=["background", "liver", "lesion"])
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(ValidationError):
            tiny.spec(3, foreground_threshold=bad)
    assert tiny.spec(3, labels=["background", "liver", "lesion"]).foreground_threshold == 0.5
