"""``predict``: same preprocessing, ORT sliding windows, inverse geometry onto the input grid (SRS-EXPORT-003).

The model is a 1x1 convolution thresholding the normalised intensity, so the right mask is known:
the bright box of the input, on the input's own grid, whatever its orientation and spacing.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.verify.metrics import dice
from pipeline.predict.run import predict
from tests.export import tiny

HU_BOX = 200.0  # window -150..250 -> 0.875 > 0.5: foreground


def box_volume(shape=(30, 26, 14)) -> tuple[np.ndarray, np.ndarray]:
    """A body (40 HU) in air with a bright box (200 HU); returns (volume, truth)."""
    volume = np.full(shape, -1000.0, dtype=np.float32)
    volume[3:-3, 3:-3, 2:-2] = 40.0
    truth = np.zeros(shape, dtype=np.uint8)
    truth[8:20, 7:17, 4:10] = 1
    volume[truth > 0] = HU_BOX
    return volume, truth


@pytest.fixture
def model3d(tmp_path):
    level = ((HU_BOX + 40.0) / 2 + 150.0) / 400.0  # halfway between body and box after the window
    return tiny.export_model(tiny.Threshold(3, level=level), tmp_path / "threshold.onnx", tiny.spec(3))


AFFINE = np.array([[-0.8, 0, 0, 10], [0, 0, 2.5, -5], [0, -1.1, 0, 30], [0, 0, 0, 1]])  # array axes run L, I, A


def write_nifti(tmp_path, volume):
    nib.save(nib.Nifti1Image(volume.astype(np.int16), AFFINE), tmp_path / "ct.nii.gz")
    return tmp_path / "ct.nii.gz"


@pytest.mark.verifies("SRS-EXPORT-003")
def test_nifti_mask_is_exact_on_an_oblique_input_grid_without_resampling(tmp_path):
    volume, truth = box_volume()
    level = ((HU_BOX + 40.0) / 2 + 150.0) / 400.0
    spec = tiny.spec(3, target_spacing_mm=[0.8, 2.5, 1.1])  # the input's spacing in RAS order
    model = tiny.export_model(tiny.Threshold(3, level=level), tmp_path / "m.onnx", spec)
    summary = predict(model, write_nifti(tmp_path, volume), tmp_path / "mask.nii.gz", threads=1)
    out = nib.load(tmp_path / "mask.nii.gz")
    assert out.shape == volume.shape and np.allclose(out.affine, AFFINE, atol=1e-5)
    assert summary["format"] == "nifti" and summary["network_shape"] != list(volume.shape)  # reoriented, cropped
    np.testing.assert_array_equal(np.asarray(out.dataobj), truth)


@pytest.mark.verifies("SRS-EXPORT-003", "SRS-COMP-004")
@pytest.mark.parametrize("keep_largest", [False, True])
def test_predict_applies_the_post_processing_the_model_file_carries(tmp_path, keep_largest):
    volume, truth = box_volume()
    island = np.zeros_like(truth)
    island[23:25, 20:22, 10:12] = 1  # a small bright spot far from the box
    volume[island > 0] = HU_BOX
    level = ((HU_BOX + 40.0) / 2 + 150.0) / 400.0
    spec = tiny.spec(3, target_spacing_mm=[0.8, 2.5, 1.1], keep_largest_component=keep_largest)
    model = tiny.export_model(tiny.Threshold(3, level=level), tmp_path / "m.onnx", spec)
    predict(model, write_nifti(tmp_path, volume), tmp_path / "mask.nii.gz", threads=1)
    expected = truth if keep_largest else truth | island
    np.testing.assert_array_equal(np.asarray(nib.load(tmp_path / "mask.nii.gz").dataobj), expected)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_nifti_mask_after_resampling_overlaps_the_truth(tmp_path, model3d):
    volume, truth = box_volume()
    predict(model3d, write_nifti(tmp_path, volume), tmp_path / "mask.nii.gz", threads=1)
    mask = np.asarray(nib.load(tmp_path / "mask.nii.gz").dataobj)
    assert mask.dtype == np.uint8 and dice(mask, truth) > 0.85
    centre = [float(np.mean(a)) for a in np.nonzero(mask)]
    expected = [float(np.mean(a)) for a in np.nonzero(truth)]
    assert np.allclose(centre, expected, atol=1.0)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_png_in_png_out(tmp_path):
    model = tiny.export_model(tiny.Threshold(2), tmp_path / "t2.onnx", tiny.spec(2))
    image = np.full((40, 36), 10, dtype=np.uint8)
    image[10:25, 5:20] = 250
    Image.fromarray(image).save(tmp_path / "in.png")
    model_spec = tiny.spec(2, normalisation={"kind": "ct_window", "low": 0.0, "high": 255.0})
    model = tiny.export_model(tiny.Threshold(2), tmp_path / "t2.onnx", model_spec)
    assert main(["predict", str(model), str(tmp_path / "in.png"), str(tmp_path / "out.png")]) == 0
    mask = np.asarray(Image.open(tmp_path / "out.png"))
    assert mask.shape == image.shape
    assert dice(mask > 0, image > 128) > 0.95


@pytest.mark.slow
@pytest.mark.verifies("SRS-EXPORT-003")
def test_dicom_series_gives_seg_referencing_it_and_nifti(tmp_path, model3d):
    import highdicom as hd

    from tests.data.tiny import make_cohort

    raw = make_cohort(tmp_path / "raw")
    series = sorted(p.parent for p in raw.rglob("CT/*.dcm"))[0]
    predict(model3d, series, tmp_path / "seg.dcm", threads=1)
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    import pydicom

    ct = pydicom.dcmread(next(series.glob("*.dcm")))
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct.SeriesInstanceUID
    assert seg.StudyInstanceUID == ct.StudyInstanceUID
    summary = predict(model3d, series, tmp_path / "seg.nii.gz", threads=1)
    assert nib.load(tmp_path / "seg.nii.gz").shape == tuple(summary["input_shape"])


@pytest.mark.verifies("SRS-EXPORT-003")
def test_inverting_one_probability_difference_equals_the_two_channel_argmax():
    import torch

    from pipeline.predict import geometry

    spec = tiny.spec(3).model_copy(update={"crop_foreground": True, "crop_threshold": 0.05,
                                           "target_spacing_mm": [1.0, 1.3, 2.0]})
    volume, _ = box_volume((34, 28, 16))
    data, network_input = geometry.preprocess(volume, AFFINE, spec)
    logits = np.random.default_rng(3).normal(0.0, 2.0, (2, *network_input.shape[1:])).astype(np.float32)
    fast = geometry.invert(data, logits)
    probs = geometry._to_input_grid(data, torch.softmax(torch.from_numpy(logits), dim=0))
    reference = probs.argmax(0).astype(np.uint8)
    assert fast.shape == reference.shape == volume.shape
    assert reference.any() and (reference == 0).any()
    # equal except on exact ties (both probabilities 0: an input voxel on the zero padding that
    # undoes the crop), which Invertd's float noise decides and the slab path calls background
    # (tests/predict/test_inverse_geometry.py)
    differ = fast != reference
    assert not (differ & (probs.max(0) > 1e-12)).any() and not fast[differ].any()
