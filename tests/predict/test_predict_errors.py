"""``predict`` refuses bad input and tampered models with one clear message (SRS-EXPORT-004)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.runtime.sliding import check_volume
from pipeline.predict.run import predict
from tests.export import tiny


@pytest.fixture
def model(tmp_path):
    return tiny.export_model(tiny.Threshold(3), tmp_path / "m.onnx", tiny.spec(3))


def nifti(tmp_path, array, name="in.nii.gz"):
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp_path / name)
    return tmp_path / name


@pytest.mark.verifies("SRS-EXPORT-004")
def test_nan_input_is_refused(tmp_path, model):
    array = np.zeros((20, 20, 10), np.float32)
    array[3, 4, 5] = np.nan
    with pytest.raises(UserError, match="1 NaN or infinite pixel value"):
        predict(model, nifti(tmp_path, array), tmp_path / "out.nii.gz")


@pytest.mark.verifies("SRS-EXPORT-004")
def test_wrong_dtype_is_refused(tmp_path, model):
    with pytest.raises(UserError, match="dtype complex64 is not supported"):
        predict(model, nifti(tmp_path, np.zeros((8, 8, 8), np.complex64)), tmp_path / "out.nii.gz")
    with pytest.raises(UserError, match="dtype bool is not supported"):
        check_volume(np.zeros((1, 8, 8, 8), bool), tiny.spec(3))


@pytest.mark.verifies("SRS-EXPORT-004")
def test_wrong_shape_is_refused(tmp_path, model):
    with pytest.raises(UserError, match=r"expected a 3D volume"):
        predict(model, nifti(tmp_path, np.zeros((8, 8, 8, 3), np.float32)), tmp_path / "out.nii.gz")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "flat.png")
    with pytest.raises(UserError, match="is 2D .* expects 3D"):
        predict(model, tmp_path / "flat.png", tmp_path / "out.png")
    with pytest.raises(UserError, match=r"input shape \(2, 8, 8, 8\) is not supported"):
        check_volume(np.zeros((2, 8, 8, 8), np.float32), tiny.spec(3))


@pytest.mark.verifies("SRS-EXPORT-004")
def test_model_failing_its_checksum_is_refused_before_reading_input(tmp_path, model):
    model.with_name("m.onnx.sha256").write_text("0" * 64 + "  m.onnx\n")
    with pytest.raises(UserError, match="fails its checksum"):
        predict(model, tmp_path / "does-not-matter.nii.gz", tmp_path / "out.nii.gz")


@pytest.mark.verifies("SRS-EXPORT-004")
def test_missing_or_unsupported_input_and_output(tmp_path, model):
    with pytest.raises(UserError, match="not found"):
        predict(model, tmp_path / "missing.nii.gz", tmp_path / "out.nii.gz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="is not supported"):
        predict(model, tmp_path / "notes.txt", tmp_path / "out.nii.gz")
    with pytest.raises(UserError, match="DICOM SEG needs a DICOM series input"):
        predict(model, nifti(tmp_path, np.zeros((20, 20, 10), np.float32)), tmp_path / "out.dcm")


@pytest.mark.verifies("SRS-EXPORT-004")
def test_cli_prints_one_message_and_exits_2(tmp_path, model, capsys):
    code = main(["predict", str(model), str(tmp_path / "missing.nii.gz"), str(tmp_path / "o.nii.gz")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: input") and "Traceback" not in err
