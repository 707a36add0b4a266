"""Bad inputs are quarantined with a reason; optional behaviours (overlays, UIDs, re-id table)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pydicom
import pytest

from pipeline.core.errors import UserError
from tests.deid.conftest import deid_params, deid_run


def _one_ct(raw_cohort: Path) -> Path:
    return sorted(raw_cohort.rglob("IM0001.dcm"))[0]


@pytest.mark.verifies("SRS-DEID-008")
def test_each_kind_of_bad_input_goes_to_quarantine_with_its_reason(raw_cohort, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = _one_ct(raw_cohort)
    (src / "notes.txt").write_text("not a DICOM file")
    (src / "truncated.dcm").write_bytes(good.read_bytes()[:-600])
    ds = pydicom.dcmread(good)
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.999"
    ds.save_as(src / "odd_syntax.dcm")
    ds = pydicom.dcmread(good)
    del ds.PixelData
    ds.save_as(src / "no_pixels.dcm")
    (src / "good.dcm").write_bytes(good.read_bytes())
    report, paths = deid_run(src, tmp_path / "run")
    assert report["quarantined_by_reason"] == {"not_dicom": 1, "truncated_pixel_data": 1,
                                              "unsupported_transfer_syntax": 1, "missing_pixel_data": 1}
    assert report["written"] == 1 and report["files_in"] == 5
    index = json.loads((paths.quarantine / "index.json").read_text())
    assert {e["source"] for e in index["files"]} == {"notes.txt", "truncated.dcm", "odd_syntax.dcm", "no_pixels.dcm"}


@pytest.mark.verifies("SRS-DEID-007", "SRS-DEID-002")
def test_overlays_removed_by_default_and_kept_with_clean_graphics(raw_cohort, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ds = pydicom.dcmread(_one_ct(raw_cohort))
    ds.add_new(0x60000010, "US", ds.Rows)
    ds.add_new(0x60000011, "US", ds.Columns)
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60003000, "OW", b"\x00" * (ds.Rows * ds.Columns // 8))
    ds.save_as(src / "overlay.dcm")
    _, plain = deid_run(src, tmp_path / "plain")
    assert not any(t.group == 0x6000 for t in pydicom.dcmread(next(plain.output.rglob("*.dcm"))).keys())
    _, kept = deid_run(src, tmp_path / "kept", deid_params(options={"clean_graphics": True}))
    out = pydicom.dcmread(next(kept.output.rglob("*.dcm")))
    assert 0x60003000 in out and "113103" in {i.CodeValue for i in out.DeidentificationMethodCodeSequence}


@pytest.mark.verifies("SRS-DEID-002", "SRS-DEID-009")
def test_retain_uids_keeps_uids_and_the_leak_check_follows(raw_cohort, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = _one_ct(raw_cohort)
    (src / "a.dcm").write_bytes(good.read_bytes())
    report, paths = deid_run(src, tmp_path / "run", deid_params(options={"retain_uids": True}))
    out = pydicom.dcmread(next(paths.output.rglob("*.dcm")))
    assert out.SOPInstanceUID == pydicom.dcmread(good).SOPInstanceUID and report["leak_check"]["leaks"] == 0


@pytest.mark.verifies("SRS-DEID-004", "SRS-DEID-005")
def test_reid_table_only_outside_the_outputs(raw_cohort, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.dcm").write_bytes(_one_ct(raw_cohort).read_bytes())
    with pytest.raises(UserError, match="outside the DVC outputs"):
        deid_run(src, tmp_path / "bad", deid_params(reid_table=str(tmp_path / "bad" / "out" / "reid.json")))
    table = tmp_path / "secret" / "reid.json"
    _, paths = deid_run(src, tmp_path / "run", deid_params(reid_table=str(table)))
    mapping = json.loads(table.read_text())
    pseudonym = pydicom.dcmread(next(paths.output.rglob("*.dcm"))).PatientID
    assert mapping[pseudonym].startswith("id:" + pydicom.dcmread(_one_ct(raw_cohort)).PatientID)


@pytest.mark.slow
@pytest.mark.verifies("SRS-PLAT-003", "SRS-DEID-005")
def test_stage_mode_logs_counts_to_mlflow_and_never_the_key(raw_cohort, tmp_path, monkeypatch):
    from pipeline.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPELINE_DEID_KEY", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    study = next(raw_cohort.rglob("SEG")).parent
    (tmp_path / "data" / "raw").mkdir(parents=True)
    os.symlink(study, tmp_path / "data" / "raw" / "study")
    params = Path(__file__).resolve().parents[2] / "params.yaml"
    assert main(["--params", str(params), "deid"]) == 0
    key = (tmp_path / ".secrets" / "deid.key").read_bytes().strip()
    assert oct((tmp_path / ".secrets" / "deid.key").stat().st_mode & 0o777) == "0o600"
    import sqlite3

    db = sqlite3.connect(tmp_path / "mlflow.db")
    metrics = dict(db.execute("select key, value from metrics").fetchall())
    assert metrics["written"] > 0 and metrics["leak_check.leaks"] == 0
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "deid.key"]
    assert not [p for p in stored if key in p.read_bytes()]
