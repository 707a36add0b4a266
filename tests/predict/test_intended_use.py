"""``predict`` checks its input against the intended use before any work (SRS-PRED-002).

The ranges travel in the model file's metadata (``acquisition_ranges``, from the fingerprint);
the rule (refuse or warn per check) is ``pipeline/predict/data/intended_use.yaml``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.export import metadata
from pipeline.predict import intended_use
from pipeline.predict.reader import InputImage
from pipeline.predict.run import predict
from tests.predict import inputs

FINGERPRINT = {"all": {"cases": 70, "spacing_min": [0.6, 0.6, 2.0], "spacing_max": [0.9, 0.9, 3.0],
                       "shape_min": [80, 80, 48], "shape_max": [112, 112, 64], "manufacturers": ["GE", "Philips"]},
               "per_site": {}, "bad_cases": 0}


def rule(**changes) -> intended_use.IntendedUseRule:
    data = intended_use.load_rule().model_dump()
    for key, value in changes.items():
        data[key] = {**data[key], **value}
    return intended_use.IntendedUseRule.model_validate(data)


def fingerprint_ranges():
    return metadata.acquisition_ranges(FINGERPRINT, source="metrics/fingerprint.json")


@pytest.mark.verifies("SRS-PRED-002")
def test_the_ranges_come_from_the_fingerprint_and_round_trip_through_the_metadata(tmp_path):
    ranges = fingerprint_ranges()
    assert ranges.spacing_mm_min == [0.6, 0.6, 2.0] and ranges.shape_max == [112, 112, 64] and ranges.cases == 70
    data = metadata.build_metadata("teacher", "1", "c", "r", inputs.tiny.spec(3), "use", "0" * 64,
                                   acquisition=ranges)
    assert metadata.read_acquisition_ranges(data) == ranges
    assert metadata.read_acquisition_ranges({}) is None  # older files
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=ranges)
    assert metadata.read_acquisition_ranges(metadata.read_metadata(model)) == ranges


@pytest.mark.verifies("SRS-PRED-002")
def test_broken_ranges_are_a_user_error_not_a_crash():
    with pytest.raises(UserError, match="acquisition_ranges"):
        metadata.read_acquisition_ranges({metadata.RANGES_KEY: '{"cases": 1}'})
    with pytest.raises(UserError, match="fingerprint"):
        metadata.acquisition_ranges({"all": {"cases": 3}}, source="fingerprint.json")


@pytest.mark.verifies("SRS-PRED-002")
def test_the_shipped_rule_refuses_other_modalities_and_spacings_and_warns_on_size():
    shipped = intended_use.load_rule()
    assert shipped.modality.allowed == ["CT"] and shipped.modality.action == "refuse"
    assert shipped.spacing.action == "refuse" and shipped.size.action == "warn"
    assert shipped.missing_ranges.action == "warn"


@pytest.mark.verifies("SRS-PRED-002")
def test_inside_every_range_passes():
    found = intended_use.evaluate("CT", [0.75, 0.75, 2.5], [96, 96, 48], fingerprint_ranges(), rule())
    assert [f.outcome for f in found] == ["pass", "pass", "pass"]


@pytest.mark.verifies("SRS-PRED-002")
def test_a_spacing_outside_the_range_is_refused_naming_the_value_and_the_range():
    found = intended_use.evaluate("CT", [0.75, 0.75, 5.0], [96, 96, 48], fingerprint_ranges(), rule())
    spacing = next(f for f in found if f.check == "spacing")
    assert spacing.outcome == "refuse"
    assert "z 5.0 not in 2.0..3.0 mm" in spacing.message and "70 cases" in spacing.message


@pytest.mark.verifies("SRS-PRED-002")
def test_tolerance_and_action_come_from_the_rule():
    wide = rule(spacing={"tolerance": 0.5})
    assert intended_use.evaluate("CT", [0.75, 0.75, 4.0], [96, 96, 48], fingerprint_ranges(), wide)[1].outcome == "pass"
    warn = rule(spacing={"action": "warn"})
    assert intended_use.evaluate("CT", [0.75, 0.75, 5.0], [96, 96, 48], fingerprint_ranges(), warn)[1].outcome == "warn"
    size = intended_use.evaluate("CT", [0.75, 0.75, 2.5], [512, 512, 48], fingerprint_ranges(), rule())[2]
    assert size.outcome == "warn" and "x 512 not in 80..112" in size.message


@pytest.mark.verifies("SRS-PRED-002")
def test_rounded_fingerprint_spacings_do_not_refuse_their_own_values():
    found = intended_use.evaluate("CT", [0.59999, 0.9000001, 2.0], [80, 80, 48], fingerprint_ranges(), rule())
    assert found[1].outcome == "pass"


@pytest.mark.verifies("SRS-PRED-002")
@pytest.mark.parametrize("modality, outcome", [("CT", "pass"), ("MR", "refuse"), ("PT", "refuse"), ("", "refuse"),
                                               (None, "not_applicable")])
def test_only_ct_is_accepted_among_dicom_modalities(modality, outcome):
    assert intended_use.evaluate(modality, [0.75, 0.75, 2.5], [96, 96, 48], None, rule())[0].outcome == outcome


@pytest.mark.verifies("SRS-PRED-002")
def test_a_dicom_mr_series_is_refused_in_one_message():
    from pydicom.dataset import Dataset

    image = InputImage(kind="dicom", array=np.zeros((96, 96, 48), np.float32), affine=np.diag([0.75, 0.75, 2.5, 1]),
                       extra={"datasets": [Dataset()]})
    image.extra["datasets"][0].Modality = "MR"
    data = {metadata.RANGES_KEY: fingerprint_ranges().model_dump_json()}
    with pytest.raises(UserError, match=r"DICOM modality MR is not in the intended use \(allowed: CT\)"):
        intended_use.check(image, data)
    record = intended_use.check(image, data, allow_outside=True)
    assert record["outside_intended_use"] and record["override"]
    assert any("OUTSIDE INTENDED USE" in w for w in record["warnings"])


@pytest.mark.verifies("SRS-PRED-002")
def test_predict_refuses_an_mr_series_with_exit_code_2_and_writes_nothing(tmp_path, capsys):
    volume, _ = inputs.two_cubes()
    series = inputs.ct_series(tmp_path / "mr", np.transpose(volume[:, :, :12], (2, 0, 1)), modality="MR")
    model = inputs.threshold_model(tmp_path / "m.onnx", spacing_mm=[0.8, 0.8, 2.5])
    assert main(["predict", str(model), str(series), str(tmp_path / "seg.nii.gz"), "--threads", "1"]) == 2
    assert "DICOM modality MR" in capsys.readouterr().err
    assert not (tmp_path / "seg.nii.gz").exists() and not (tmp_path / "seg.json").exists()


@pytest.mark.verifies("SRS-PRED-002")
def test_predict_refuses_a_spacing_outside_the_model_ranges_and_writes_nothing(tmp_path, capsys):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)  # RAS spacing 0.8, 2.5, 1.1
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=inputs.ranges([0.6, 0.6, 2.0], [0.9, 0.9, 3.0]))
    assert main(["predict", str(model), str(source), str(tmp_path / "mask.nii.gz"), "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "voxel spacing [0.8, 2.5, 1.1] mm" in err
    assert "y 2.5 not in 0.6..0.9" in err and "z 1.1 not in 2.0..3.0" in err and "--outside-intended-use" in err
    assert not (tmp_path / "mask.nii.gz").exists() and not (tmp_path / "mask.json").exists()


@pytest.mark.verifies("SRS-PRED-002")
def test_the_override_runs_with_a_loud_warning_recorded_in_the_report(tmp_path, capsys):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=inputs.ranges([0.6, 0.6, 2.0], [0.9, 0.9, 3.0]))
    assert main(["predict", str(model), str(source), str(tmp_path / "mask.nii.gz"), "--threads", "1",
                 "--outside-intended-use"]) == 0
    assert "warning: OUTSIDE INTENDED USE" in capsys.readouterr().err
    data = json.loads((tmp_path / "mask.json").read_text())
    assert data["outside_intended_use"] is True and data["intended_use"]["override"] is True
    assert data["intended_use"]["ranges"]["spacing_mm_max"] == [0.9, 0.9, 3.0]
    assert data["total"]["volume_ml"] == 1.0208


@pytest.mark.verifies("SRS-PRED-002")
def test_an_input_inside_the_ranges_runs_without_warning(tmp_path):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=inputs.ranges([0.7, 2.0, 1.0], [0.9, 3.0, 1.2]))
    summary = predict(model, source, tmp_path / "mask.nii.gz", threads=1)
    assert summary["warnings"] == [] and summary["outside_intended_use"] is False
    checks = json.loads((tmp_path / "mask.json").read_text())["intended_use"]["checks"]
    assert [c["outcome"] for c in checks] == ["not_applicable", "pass", "pass"]


@pytest.mark.verifies("SRS-PRED-002")
def test_a_model_without_ranges_runs_with_a_warning(tmp_path):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=None)
    summary = predict(model, source, tmp_path / "mask.nii.gz", threads=1)
    assert len(summary["warnings"]) == 1 and "carries no acquisition ranges" in summary["warnings"][0]
    assert summary["outside_intended_use"] is False  # unknown, not outside: the report shows the check
    assert (tmp_path / "mask.nii.gz").exists()


@pytest.mark.verifies("SRS-PRED-002")
def test_an_input_of_other_dimensionality_than_the_model_is_refused(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((20, 20), 100, np.uint8)).save(tmp_path / "slice.png")
    model = inputs.threshold_model(tmp_path / "m.onnx")
    with pytest.raises(UserError, match="expects 3D"):
        predict(model, tmp_path / "slice.png", tmp_path / "out.png", threads=1)
