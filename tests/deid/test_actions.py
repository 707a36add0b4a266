"""Actions at every depth: nested sequences, private and unknown attributes, allow-list, UIDs."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import pytest

from pipeline.deid.actions import FileContext, deidentify
from pipeline.deid.allowlist import build_allowlist
from pipeline.deid.profile import build_profile
from pipeline.deid.pseudonyms import Pseudonymizer
from tests.deid.conftest import KEY, deid_params


def _ctx(**options):
    params = deid_params(options=options)
    pseudo = Pseudonymizer(KEY, "2.25", "SUBJ-", (-100, -30))
    profile = build_profile(params.options)
    allow = build_allowlist(params.options.clean_graphics, params.options.retain_safe_private)
    return FileContext(profile, allow, pseudo, "SUBJ-X", -40)


def _dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN123456"
    ds.StudyDate = "20200110"
    ds.SeriesDescription = "CT chest Doe MRN123456"
    ds.SOPInstanceUID = "1.2.3.4.5.6"
    ds.Rows, ds.Columns = 2, 2
    inner = Dataset()
    inner.PatientName = "SMITH^JOHN"
    inner.ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    inner.add_new(0x00091010, "LO", "private inside")
    ds.ReferencedImageSequence = Sequence([inner])
    ds.OtherPatientIDsSequence = Sequence([Dataset()])
    ds.OtherPatientIDsSequence[0].PatientID = "OTHER-42"
    ds.add_new(0x00291010, "LO", "private top")
    ds.add_new(0x00211001, "LO", "odd unknown")
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 2)
    ds.add_new(0x60000010, "US", 2)
    ds.ContentCreatorName = "NURSE^ANNA"  # Z/D
    ds.add_new(0x00189999, "LO", "unlisted standard-looking tag")
    return ds


@pytest.mark.verifies("SRS-DEID-001", "SRS-DEID-003")
def test_every_depth_private_unknown_and_overlays():
    ds = _dataset()
    deidentify(ds, _ctx())
    assert ds.PatientName == "SUBJ-X" and ds.PatientID == "SUBJ-X"
    assert "OtherPatientIDsSequence" not in ds
    item = ds.ReferencedImageSequence[0]
    assert "PatientName" not in item or not item.PatientName
    assert not any(t.is_private for t in ds.keys()) and not any(t.is_private for t in item.keys())
    assert 0x60003000 not in ds and 0x60000010 not in ds and 0x00189999 not in ds
    assert ds.ContentCreatorName in ("", None)
    assert ds.Rows == 2  # allow-listed image pixel attribute stays


@pytest.mark.verifies("SRS-DEID-004")
def test_uids_remapped_consistently_at_every_depth_and_dates_shifted():
    ds = _dataset()
    deidentify(ds, _ctx())
    assert ds.SOPInstanceUID.startswith("2.25.")
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert ds.StudyDate == "20191201"  # 2020-01-10 minus 40 days


@pytest.mark.verifies("SRS-DEID-002")
def test_clean_descriptors_keeps_meaning_without_identity_and_off_removes():
    cleaned = _dataset()
    deidentify(cleaned, _ctx(clean_descriptors=True))
    assert cleaned.SeriesDescription == "CT chest"
    removed = _dataset()
    deidentify(removed, _ctx(clean_descriptors=False))
    assert "SeriesDescription" not in removed


@pytest.mark.verifies("SRS-DEID-003", "SRS-DEID-002")
def test_safe_private_kept_only_with_the_option_and_only_listed_elements():
    def with_private():
        ds = _dataset()
        block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        block.add_new(0x0C, "IS", "1000")   # B_value: safe
        block.add_new(0x10, "LO", "DOE^JANE")  # not on the list
        return ds

    kept = with_private()
    deidentify(kept, _ctx(retain_safe_private=True))
    private = {(t.group, t.element & 0xFF) for t in kept.keys() if t.is_private and t.element >= 0x1000}
    assert private == {(0x0019, 0x0C)}
    removed = with_private()
    deidentify(removed, _ctx())
    assert not any(t.is_private for t in removed.keys())


@pytest.mark.verifies("SRS-DEID-004", "SRS-DEID-003")
def test_instance_uids_outside_the_table_are_replaced_class_uids_kept():
    ds = _dataset()
    ds.SOPClassUID = "1.3.12.2.1107.5.9.1"  # a private SOP class: a class, not an instance
    ds.SOPInstanceUIDOfConcatenationSource = "1.2.3.4.5.6"
    deidentify(ds, _ctx())
    assert ds.SOPClassUID == "1.3.12.2.1107.5.9.1"
    assert ds.SOPInstanceUIDOfConcatenationSource == ds.SOPInstanceUID != "1.2.3.4.5.6"


@pytest.mark.verifies("SRS-DEID-003")
def test_allow_listed_text_loses_the_files_own_names_but_codes_stay():
    ds = _dataset()
    ds.SegmentSequence = [Dataset()]
    ds.SegmentSequence[0].SegmentLabel = "lesion of Doe"
    ds.SegmentSequence[0].SegmentDescription = "lesion 123456"
    ds.Manufacturer = "ACME"
    deidentify(ds, _ctx())
    assert ds.SegmentSequence[0].SegmentLabel == "lesion of"
    assert ds.SegmentSequence[0].SegmentDescription == "lesion 123456" and ds.Manufacturer == "ACME"
