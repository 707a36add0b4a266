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


@pytest.mark.verifies("SRS-EXPORT-004")
def test_an_output_that_would_overwrite_the_input_or_land_in_its_folder_is_refused(tmp_path, model):
    source = nifti(tmp_path, np.zeros((20, 20, 10), np.float32), name="scan.nii.gz")
    before = source.read_bytes()
    with pytest.raises(UserError, match="is the input itself"):
        predict(model, source, tmp_path / "." / "scan.nii.gz")
    with pytest.raises(UserError, match="is the model itself"):
        predict(model, source, model)
    series = tmp_path / "series"
    series.mkdir()
    with pytest.raises(UserError, match="inside the input folder"):
        predict(model, series, series / "sub" / "mask.nii.gz")
    with pytest.raises(UserError, match="is a folder"):
        predict(model, source, tmp_path)
    assert source.read_bytes() == before


@pytest.mark.verifies("SRS-EXPORT-004")
def test_a_nifti_without_geometry_needs_the_voxel_size_stated(tmp_path, model):
    array = np.zeros((20, 20, 10), np.float32)
    array[5:15, 5:15, 3:7] = 200.0
    bare = tmp_path / "bare.nii"
    nib.save(nib.Nifti1Image(array, None), bare)
    with pytest.raises(UserError, match=r"records no geometry .*pass --voxel-spacing X Y Z"):
        predict(model, bare, tmp_path / "out.nii.gz")
    out = predict(model, bare, tmp_path / "out.nii.gz", voxel_spacing_mm=(1.0, 1.0, 2.0))
    assert out["input_shape"] == [20, 20, 10]
    with pytest.raises(UserError, match="records its own geometry"):
        predict(model, nifti(tmp_path, array), tmp_path / "o2.nii.gz", voxel_spacing_mm=(1.0, 1.0, 2.0))


@pytest.mark.verifies("SRS-EXPORT-004")
def test_absurd_voxel_sizes_are_refused_naming_them(tmp_path, model):
    array = np.zeros((20, 20, 10), np.float32)
    path = tmp_path / "far.nii.gz"
    nib.save(nib.Nifti1Image(array, np.diag([1.0, 1.0, 1e6, 1.0])), path)
    with pytest.raises(UserError, match=r"voxel size \[1.0, 1.0, 1000000.0\] mm is outside"):
        predict(model, path, tmp_path / "out.nii.gz")


@pytest.mark.verifies("SRS-EXPORT-004")
def test_an_image_preprocessing_empties_gets_the_real_cause(tmp_path):
    from tests.export import tiny as t

    cropping = t.spec(3).model_copy(update={"crop_foreground": True, "crop_threshold": 0.05})
    model = t.export_model(t.Threshold(3), tmp_path / "crop.onnx", cropping)
    air = nifti(tmp_path, np.full((24, 24, 12), -1024.0, np.float32), name="air.nii.gz")
    with pytest.raises(UserError, match=r"preprocessing left no voxels.*values span -1024..-1024"):
        predict(model, air, tmp_path / "out.nii.gz")
