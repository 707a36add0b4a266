"""Every real DICOM file from pydicom's test files, pydicom-data and deid-data: no leak, counts add up."""

from __future__ import annotations

import json

import pydicom
import pytest

from tests.deid.conftest import PIXELS_UNREAD, deid_params, deid_run


@pytest.fixture(scope="module")
def corpus_run(corpus, tmp_path_factory):
    report, paths = deid_run(corpus, tmp_path_factory.mktemp("corpus-out"))
    return corpus, report, paths


@pytest.fixture(scope="module")
def open_run(corpus, tmp_path_factory):
    """No SOP class is suspect by kind and no pixel is read for text: secondary captures and
    ultrasound are de-identified too, and their headers checked for leaks."""
    params = deid_params(burned_in=PIXELS_UNREAD)
    report, paths = deid_run(corpus, tmp_path_factory.mktemp("corpus-open"), params)
    return corpus, report, paths


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-009", "SRS-DEID-008")
def test_no_leak_when_secondary_captures_and_ultrasound_are_deidentified(open_run, corpus_run):
    corpus, report, paths = open_run
    assert report["leak_check"]["leaks"] == 0
    assert report["files_in"] == report["written"] + report["quarantined"]
    assert report["written"] > corpus_run[1]["written"]


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-009", "SRS-DEID-008")
def test_no_leak_and_counts_add_up(corpus_run):
    corpus, report, paths = corpus_run
    files = [p for p in corpus.rglob("*") if p.is_file()]
    assert report["files_in"] == len(files) == report["written"] + report["quarantined"]
    assert report["leak_check"]["leaks"] == 0 and report["leak_check"]["inputs_read"] > 200
    assert report["written"] > 50
    index = json.loads((paths.quarantine / "index.json").read_text())
    assert len(index["files"]) == report["quarantined"]
    assert {"not_dicom", "missing_pixel_data", "truncated_pixel_data"} <= set(report["quarantined_by_reason"])


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-007")
def test_ultrasound_with_burned_in_text_is_quarantined(corpus_run):
    corpus, report, paths = corpus_run
    index = json.loads((paths.quarantine / "index.json").read_text())
    reasons = {entry["source"].split("/")[-1]: entry["reason"] for entry in index["files"]
               if "ultrasounds" in entry["source"]}
    assert reasons["GREYSCALE_IMAGE.dcm"].startswith("burned_in")
    assert reasons["RGB_IMAGE.dcm"].startswith("burned_in")
    assert reasons["RGB_CINE.zip"] == "not_dicom"


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-001", "SRS-DEID-003")
def test_deid_data_ct_identifiers_are_gone(open_run):
    corpus, report, paths = open_run
    source = pydicom.dcmread(next(corpus.rglob("ctbrain1.dcm")))
    found = [p for p in paths.output.rglob("*.dcm")
             if pydicom.dcmread(p, stop_before_pixels=True).get("Modality") == source.Modality
             and pydicom.dcmread(p, stop_before_pixels=True).Rows == source.Rows]
    assert found
    for path in found:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert not any(tag.is_private for tag in ds.keys())
        assert ds.PatientID != source.PatientID and ds.StudyInstanceUID != source.StudyInstanceUID


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-006")
def test_every_written_file_reads_back_and_is_marked(corpus_run):
    corpus, report, paths = corpus_run
    for path in paths.output.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethodCodeSequence
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
