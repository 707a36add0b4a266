"""The cohort is valid DICOM: geometry, UID relations, SEG references, identifiers in place."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from tests.cohort.tiny import tiny_params


def _series(root: Path) -> dict[str, list[pydicom.Dataset]]:
    series = defaultdict(list)
    for path in sorted(root.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.filename_ = path
        series[ds.SeriesInstanceUID].append(ds)
    return series


@pytest.fixture(scope="module")
def series(tiny_cohort):
    return _series(tiny_cohort[0])


def _ct(series):
    return [s for s in series.values() if s[0].Modality == "CT" and s[0].SOPClassUID.endswith(".2")]


@pytest.mark.verifies("SRS-DATA-002")
def test_ct_geometry_matches_the_site_protocol(series):
    sites = {site.institution + site.manufacturer: site for site in tiny_params().sites}
    cts = _ct(series)
    assert len(cts) == 9
    for slices in cts:
        site = sites[slices[0].InstitutionName + slices[0].Manufacturer]
        assert len(slices) == site.slices
        for ds in slices:
            assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            assert [float(v) for v in ds.PixelSpacing] == [site.pixel_spacing_mm] * 2
            assert float(ds.SliceThickness) == site.slice_thickness_mm
            assert (ds.Rows, ds.Columns) == (site.rows, site.columns)
            assert ds.pixel_array.shape == (site.rows, site.columns)
        by_instance = sorted(slices, key=lambda d: int(d.InstanceNumber))
        z = np.array([float(d.ImagePositionPatient[2]) for d in by_instance])
        steps = np.diff(z)
        assert np.allclose(np.abs(steps), site.slice_thickness_mm, atol=1e-3)
        # the site's slice order: head_first means instance 1 is the most superior (+z)
        assert (steps < 0).all() if site.slice_order == "head_first" else (steps > 0).all()


@pytest.mark.verifies("SRS-DATA-002")
def test_uid_relations_are_consistent(series):
    sop_uids = [ds.SOPInstanceUID for s in series.values() for ds in s]
    assert len(sop_uids) == len(set(sop_uids))
    for slices in series.values():
        for key in ("StudyInstanceUID", "FrameOfReferenceUID", "PatientID", "SeriesNumber"):
            assert len({str(getattr(ds, key)) for ds in slices}) == 1, key
        for ds in slices:
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
            assert pydicom.uid.UID(ds.SOPInstanceUID).is_valid
    studies_per_patient = defaultdict(set)
    for slices in _ct(series):
        studies_per_patient[slices[0].PatientID].add(slices[0].StudyInstanceUID)
    # six patients; every second one has a follow-up study under the same PatientID
    assert sorted(len(v) for v in studies_per_patient.values()) == [1, 1, 1, 2, 2, 2]


@pytest.mark.verifies("SRS-DATA-003")
def test_each_ct_has_one_seg_that_references_it_and_marks_the_lesion(series):
    cts = {s[0].SeriesInstanceUID: s for s in _ct(series)}
    segs = [s[0] for s in series.values() if s[0].Modality == "SEG"]
    assert len(segs) == len(cts)
    for seg_ds in segs:
        seg = hd.seg.segread(seg_ds.filename_)
        ref = seg.ReferencedSeriesSequence[0]
        source = cts[ref.SeriesInstanceUID]
        assert seg.StudyInstanceUID == source[0].StudyInstanceUID
        assert seg.FrameOfReferenceUID == source[0].FrameOfReferenceUID
        assert {i.ReferencedSOPInstanceUID for i in ref.ReferencedInstanceSequence} == \
            {d.SOPInstanceUID for d in source}
        # the mask, read back per source frame, marks voxels whose CT number differs
        # from the liver's: the label is where the lesion is (RISK-004)
        by_uid = {d.SOPInstanceUID: d for d in source}
        lesion, around = [], []
        for frame_index, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
            uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            frame = seg.pixel_array[frame_index] if seg.pixel_array.ndim == 3 else seg.pixel_array
            hu = by_uid[uid].pixel_array.astype(float) - 1024
            if frame.any():
                lesion.append(hu[frame > 0].mean())
                ring = _ring(frame > 0)
                around.append(hu[ring].mean())
        assert lesion, "the ground truth marks no voxel"
        assert abs(np.mean(lesion) - np.mean(around)) > 25


def _ring(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=2) & ~mask


@pytest.mark.verifies("SRS-DATA-004")
def test_identifiers_sit_where_deidentification_tools_miss_them(series):
    ct = _ct(series)[0][0]
    name = str(ct.PatientName)
    assert ct.OtherPatientIDsSequence[0].PatientID in ct.OtherPatientIDs
    request = ct.RequestAttributesSequence[0]
    assert ct.PatientName.given_name.title() in request.RequestedProcedureDescription
    assert request.private_block(0x0011, "SYNTH PACS 1.0")[0x01].value == ct.PatientID
    block = ct.private_block(0x0009, "SYNTH PACS 1.0")
    assert block[0x01].value == name and block[0x02].value == ct.PatientID
    assert ct.PatientID in ct.ImageComments
    assert ct.PatientName.family_name.title() in ct.AdditionalPatientHistory
    assert ct.ReferencedStudySequence[0].ReferencedSOPInstanceUID
    for keyword in ("PatientBirthDate", "PatientAddress", "PatientTelephoneNumbers", "AccessionNumber",
                    "InstitutionName", "ReferringPhysicianName", "PerformingPhysicianName",
                    "OperatorsName", "StudyDate", "StudyTime", "AcquisitionDateTime",
                    "PatientSex", "PatientAge"):
        assert str(getattr(ct, keyword)), keyword


@pytest.mark.verifies("SRS-DATA-004")
def test_dose_screens_have_the_name_burned_into_the_pixels(series):
    doses = [s[0] for s in series.values() if "DOSE_INFO" in s[0].ImageType]
    assert len(doses) == 3
    for ds in doses:
        assert ds.BurnedInAnnotation == "YES"
        text_rows = np.flatnonzero((ds.pixel_array > 128).any(axis=1))
        assert len(text_rows) > 20  # five lines of drawn text
