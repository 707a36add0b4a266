"""Integration: a predict run appends one use record, without patient identity, to the use log."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.core.provenance import file_sha256
from pipeline.monitoring import logfile
from tests.predict import inputs


@pytest.mark.verifies("SRS-MON-001", "SRS-MON-002")
def test_predict_appends_one_chained_use_record_matching_its_report(tmp_path, capsys):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "patient-doe-john.nii.gz", volume)  # a name in the path
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=inputs.ranges([0.7, 2.0, 1.0], [0.9, 3.0, 1.2]))
    log = tmp_path / "state" / "use_log.jsonl"
    for n in (1, 2):
        assert main(["predict", str(model), str(source), str(tmp_path / f"mask{n}.nii.gz"), "--threads", "1",
                     "--use-log", str(log), "--site", "site-A"]) == 0
    assert "logged in" in capsys.readouterr().out
    first, second = logfile.read(log)
    assert second["prev"] == first["hash"] and second["seq"] == 2
    report = json.loads((tmp_path / "mask2.json").read_text())
    assert second["use_id"] == report["use_id"] and second["kind"] == "use" and second["site"] == "site-A"
    assert second["model"] == {"sha256": report["model"]["sha256"], "version": "0.0.0-test", "role": "teacher"}
    assert second["report"] == {"path": str(tmp_path / "mask2.json"), "sha256": file_sha256(tmp_path / "mask2.json")}
    assert second["input"]["spacing_mm"] == inputs.RAS_SPACING and second["input"]["kind"] == "nifti"
    assert second["input"]["sha256"] == first["input"]["sha256"]  # the same image, the same pseudonym
    assert second["drift"]["spacing"] == ["inside"] * 3 and second["intended_use"]["outside"] is False
    assert second["output"]["per_class"]["lesion"]["volume_ml"] == report["total"]["volume_ml"]
    assert second["runtime"]["name"] == report["runtime"]["name"]
    assert "doe" not in log.read_text() and str(source) not in log.read_text()  # no input path, no name


@pytest.mark.verifies("SRS-MON-001")
def test_a_log_that_cannot_take_a_record_stops_predict_before_any_work(tmp_path, capsys):
    volume, _ = inputs.two_cubes()
    source = inputs.write_nifti(tmp_path / "ct.nii.gz", volume)
    model = inputs.threshold_model(tmp_path / "m.onnx", acquisition=inputs.ranges([0.7, 2.0, 1.0], [0.9, 3.0, 1.2]))
    log = tmp_path / "use_log.jsonl"
    log.write_bytes(b'{"kind":"use"')  # cut off
    assert main(["predict", str(model), str(source), str(tmp_path / "mask.nii.gz"), "--use-log", str(log)]) == 2
    assert "incomplete record" in capsys.readouterr().err
    assert not (tmp_path / "mask.nii.gz").exists()
