"""Output paths are built only from values the tool generated or checked (issue 16, item 2)."""

from __future__ import annotations

import json

import pydicom
import pytest

from pipeline.deid.outpath import is_valid_uid, modality_code
from tests.deid.conftest import deid_params, deid_run


def _cts(raw_cohort):
    return sorted(raw_cohort.rglob("IM000*.dcm"))[:3]


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.verifies("SRS-DEID-010")
def test_a_retained_uid_that_is_not_a_uid_never_names_a_path(raw_cohort, tmp_path):
    src = tmp_path / "deep" / "src"
    src.mkdir(parents=True)
    bad_sop, bad_study, good = (pydicom.dcmread(p) for p in _cts(raw_cohort))
    bad_sop.SOPInstanceUID = bad_sop.file_meta.MediaStorageSOPInstanceUID = "../../../../../pwnsop"
    bad_sop.save_as(src / "a.dcm")
    bad_study.StudyInstanceUID = "../../../pwnstudy"
    bad_study.save_as(src / "b.dcm")
    good.save_as(src / "c.dcm")
    report, paths = deid_run(src, tmp_path / "deep" / "run", deid_params(options={"retain_uids": True}))
    assert report["quarantined_by_reason"] == {"invalid_uid": 2} and report["written"] == 1
    assert not [p for p in tmp_path.rglob("*") if "pwn" in p.name]
    index = json.loads((paths.quarantine / "index.json").read_text())
    assert {(e["source"], e["detail"]) for e in index["files"]} == {("a.dcm", "SOPInstanceUID"),
                                                                    ("b.dcm", "StudyInstanceUID")}
    [written] = paths.output.rglob("*.dcm")
    assert written.name == f"{good.SOPInstanceUID}.dcm"


@pytest.mark.verifies("SRS-DEID-010")
def test_a_modality_that_is_not_a_defined_term_becomes_ot_in_the_path(raw_cohort, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ds = pydicom.dcmread(_cts(raw_cohort)[0])
    ds.Modality = "OKAFOR"
    ds.save_as(src / "a.dcm")
    report, paths = deid_run(src, tmp_path / "run")
    [written] = paths.output.rglob("*.dcm")
    assert written.parent.name.startswith("OT_") and "OKAFOR" not in str(written.relative_to(paths.output))


@pytest.mark.verifies("SRS-DEID-010")
def test_uid_and_modality_checks():
    assert is_valid_uid("1.2.840.10008.5.1.4.1.1.2") and is_valid_uid("2.25.0") and is_valid_uid("0")
    for bad in ("", "../x", "1..2", "1.02", "01.2", "1.2.", ".1", "1.2a", "1." + "2" * 63, "1.2 "):
        assert not is_valid_uid(bad), bad
    assert modality_code("CT") == "CT" and modality_code("RTSTRUCT") == "RTSTRUCT"
    assert modality_code("../CT") == "OT" and modality_code("ct") == "OT" and modality_code(None) == "OT"
