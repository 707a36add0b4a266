"""``predict`` reports each connected lesion's volume beside the mask (SRS-PRED-001).

The model thresholds the normalised intensity and its spacing is the input's, so the mask is
exactly the two bright cubes and their volumes are known to the microlitre.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.predict import report
from pipeline.predict.run import predict
from tests.predict import inputs

VOXEL_MM3 = 0.8 * 2.5 * 1.1


@pytest.fixture
def model(tmp_path):
    return inputs.threshold_model(tmp_path / "m.onnx")


@pytest.mark.verifies("SRS-PRED-001")
def test_two_cubes_of_known_size_give_their_exact_volume_in_ml(tmp_path, model):
    volume, truth = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    summary = predict(model, source, tmp_path / "mask.nii.gz", threads=1)
    np.testing.assert_array_equal(np.asarray(nib.load(tmp_path / "mask.nii.gz").dataobj), truth)
    data = json.loads((tmp_path / "mask.json").read_text())
    assert summary["report"] == str(tmp_path / "mask.json")
    assert [x["voxels"] for x in data["lesions"]] == [400, 64]
    assert [x["volume_ml"] for x in data["lesions"]] == [0.88, 0.1408]  # 400 and 64 x 2.2 mm^3
    assert data["total"] == {"lesions": 2, "voxels": 464, "volume_ml": 1.0208}
    assert summary["lesions"] == 2 and summary["volume_ml"] == 1.0208
    assert data["voxel_mm3"] == pytest.approx(VOXEL_MM3, rel=1e-6)


@pytest.mark.verifies("SRS-PRED-001")
def test_the_report_locates_each_lesion_in_the_input_world_and_names_model_and_runtime(tmp_path, model):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    predict(model, source, tmp_path / "mask.nii.gz", threads=1, report_path=tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    first = data["lesions"][0]
    centre = np.array([8.5, 7.5, 5.0])  # cube A's mean index on the file's own grid
    assert first["index"] == 1 and first["bbox_voxel"] == {"min": [4, 4, 3], "max": [13, 11, 7]}
    np.testing.assert_allclose(first["centroid_mm"], (inputs.AFFINE[:3, :3] @ centre + inputs.AFFINE[:3, 3]),
                               atol=1e-3)
    assert "RAS" in data["geometry"]["frame"]
    assert data["model"]["sha256"] == (tmp_path / "m.onnx.sha256").read_text().split()[0]
    assert data["runtime"]["name"] == "onnxruntime-cpu" and data["runtime"]["seconds"] > 0
    assert data["input"] == {"path": str(source), "kind": "nifti", "shape": list(inputs.SHAPE)}
    assert not (tmp_path / "mask.json").exists()


@pytest.mark.verifies("SRS-PRED-001")
def test_the_default_report_name_replaces_the_mask_suffix():
    assert report.default_path("out/mask.nii.gz").name == "mask.json"
    assert report.default_path("out/seg.dcm").name == "seg.json"
    assert report.default_path("out/m.nii").name == "m.json"
    assert report.default_path("out/slice.PNG").name == "slice.json"


@pytest.mark.verifies("SRS-PRED-001")
@pytest.mark.parametrize("which", ["input", "model", "output", "not_json", "in_folder"])
def test_a_report_path_that_would_overwrite_something_is_refused_before_any_work(tmp_path, model, which):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    folder = tmp_path / "series"
    folder.mkdir()
    out = tmp_path / "mask.nii.gz"
    target = {"input": source, "model": model, "output": out, "not_json": tmp_path / "r.txt",
              "in_folder": folder / "r.json"}[which]
    reason = {"input": "is the input itself", "model": "is the model itself", "output": "is the output mask",
              "not_json": r"must be named \*.json", "in_folder": "inside the input folder"}[which]
    with pytest.raises(UserError, match=reason):
        report.check_path(target, model, folder if which == "in_folder" else source, out)
    if which != "in_folder":
        with pytest.raises(UserError, match="report"):
            predict(model, source, out, threads=1, report_path=target)
        assert not out.exists()


@pytest.mark.verifies("SRS-PRED-001")
def test_cli_prints_the_total_volume_and_takes_report(tmp_path, model, capsys):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    assert main(["predict", str(model), str(source), str(tmp_path / "m.nii.gz"), "--threads", "1",
                 "--report", str(tmp_path / "vol.json")]) == 0
    assert "2 lesion(s), 1.021 mL" in capsys.readouterr().out
    assert json.loads((tmp_path / "vol.json").read_text())["total"]["volume_ml"] == 1.0208


@pytest.mark.verifies("SRS-PRED-001")
def test_dicom_seg_states_the_lesion_volume_in_its_descriptions(tmp_path):
    import pydicom

    volume, truth = inputs.two_cubes()
    hu = np.transpose(volume[:, :, :12], (2, 0, 1))  # (slices, rows, columns), 12 slices
    series = inputs.ct_series(tmp_path / "ct", hu, pixel_spacing=(0.8, 0.8), slice_step=2.5)
    # LPS voxel (0.8 x 0.8 x 2.5 mm) in RAS order is the same sizes: the model's spacing is the input's
    model = inputs.threshold_model(tmp_path / "m.onnx", spacing_mm=[0.8, 0.8, 2.5])
    predict(model, series, tmp_path / "seg.dcm", threads=1)
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    data = json.loads((tmp_path / "seg.json").read_text())
    expected_voxels = int(np.transpose(truth[:, :, :12], (2, 0, 1)).sum())
    assert data["total"]["voxels"] == expected_voxels
    assert data["total"]["volume_ml"] == round(expected_voxels * 0.8 * 0.8 * 2.5 / 1000, 6)
    assert "LPS" in data["geometry"]["frame"]
    assert seg.SeriesDescription == f"2 lesion(s), {data['total']['volume_ml']:.2f} mL; review"
    assert "total" in seg.SegmentSequence[0].SegmentDescription
    assert len(seg.SeriesDescription) <= 64
