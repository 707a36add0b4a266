"""The DICOM reader: grouping by headers, RAS geometry, slice order, SEG alignment, bad cases."""

from __future__ import annotations

import shutil
from collections import defaultdict

import numpy as np
import pydicom
import pytest

from pipeline.data import dicom
from pipeline.data.params import DicomSource
from pipeline.data.readers import read_cases
from pipeline.core.errors import UserError

pytestmark = pytest.mark.verifies("SRS-DATA-005")


def _read(path):
    return dicom.read(DicomSource(format="dicom", path=str(path), classes=[{"name": "lesion"}]))


def _series_files(root):
    files = defaultdict(list)
    for path in root.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        files[(ds.Modality, str(ds.SeriesInstanceUID))].append(path)
    return files


@pytest.fixture(scope="module")
def read_tiny(tiny_dicom):
    return _read(tiny_dicom)


def test_one_case_per_ct_series_with_seg_and_dose_screens_ignored(read_tiny, tiny_dicom):
    ct_series = {uid for (modality, uid), paths in _series_files(tiny_dicom).items()
                 if modality == "CT" and len(paths) > 1}
    assert read_tiny.bad == []
    assert sorted(c.case_id for c in read_tiny.cases) == sorted(dicom.case_name(uid) for uid in ct_series)
    assert {c.site for c in read_tiny.cases} == {"Test Hospital"}
    assert all(c.label.shape == c.image.shape and c.label.any() for c in read_tiny.cases)


def test_canonical_ras_matches_every_raw_slice_for_both_slice_orders(read_tiny, tiny_dicom):
    """Each canonical slice k equals the raw CT/SEG plane at world z, flipped to R->, A-> axes."""
    by_id = {c.case_id: c for c in read_tiny.cases}
    files = _series_files(tiny_dicom)
    segs = {str(pydicom.dcmread(p[0]).ReferencedSeriesSequence[0].SeriesInstanceUID): p[0]
            for (modality, _), p in files.items() if modality == "SEG"}
    checked_orders = set()
    for (modality, uid), paths in files.items():
        if modality != "CT" or len(paths) < 2:
            continue
        case = by_id[dicom.case_name(uid)]
        assert np.allclose(np.diag(case.affine)[:3], case.spacing) and np.all(np.diag(case.affine)[:3] > 0)
        slices = [pydicom.dcmread(p) for p in paths]
        first = min(slices, key=lambda ds: ds.InstanceNumber)
        checked_orders.add(float(first.ImagePositionPatient[2]) > min(float(s.ImagePositionPatient[2]) for s in slices))
        for ds in slices:
            k = int(round((float(ds.ImagePositionPatient[2]) - case.affine[2, 3]) / case.affine[2, 2]))
            expected = (ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)).T[::-1, ::-1]
            assert np.array_equal(case.image[:, :, k], expected)
        corner_lps = np.array(first.ImagePositionPatient, float) + [
            (first.Columns - 1) * float(first.PixelSpacing[1]), (first.Rows - 1) * float(first.PixelSpacing[0]), 0]
        assert np.allclose(case.affine[:2, 3], -corner_lps[:2], atol=1e-3)
        seg = pydicom.dcmread(segs[uid])
        for frame, item in zip(seg.pixel_array, seg.PerFrameFunctionalGroupsSequence):
            z = float(item.PlanePositionSequence[0].ImagePositionPatient[2])
            k = int(round((z - case.affine[2, 3]) / case.affine[2, 2]))
            assert np.array_equal(case.label[:, :, k], frame.T[::-1, ::-1])
    assert checked_orders == {True, False}, "both head-first and feet-first series were checked"


def test_missing_slice_resampled_to_even_spacing_along_normal(tiny_dicom, read_tiny, tmp_path):
    files = _series_files(tiny_dicom)
    uid, paths = next((uid, p) for (m, uid), p in sorted(files.items()) if m == "CT" and len(p) > 3)
    seg_path = next(p[0] for (m, _), p in files.items() if m == "SEG" and
                    str(pydicom.dcmread(p[0]).ReferencedSeriesSequence[0].SeriesInstanceUID) == uid)
    study = tmp_path / "study"
    study.mkdir()
    for path in paths:
        shutil.copy(path, study / path.name)
    shutil.copy(seg_path, study / "seg.dcm")
    by_z = sorted(study.glob("IM*.dcm"), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    by_z[len(by_z) // 2].unlink()
    result = _read(study)
    full = next(c for c in read_tiny.cases if c.case_id == dicom.case_name(uid))
    assert result.bad == [] and len(result.cases) == 1
    gapped = result.cases[0]
    assert gapped.image.shape == full.image.shape
    assert np.allclose(gapped.affine, full.affine, atol=1e-4)
    k = len(by_z) // 2
    keep = [i for i in range(full.image.shape[2]) if i != k]
    assert np.allclose(gapped.image[:, :, keep], full.image[:, :, keep])
    assert np.array_equal(gapped.label[:, :, keep], full.label[:, :, keep])
    assert np.allclose(gapped.image[:, :, k], (full.image[:, :, k - 1] + full.image[:, :, k + 1]) / 2, atol=1e-3)


@pytest.mark.verifies("SRS-DATA-007")
def test_bad_cases_reported_by_name_and_reason(tiny_dicom, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(tiny_dicom, root)
    segs = sorted(root.rglob("SEG*.dcm"))
    segs[0].unlink()  # missing label
    moved = pydicom.dcmread(segs[1])  # label geometry mismatch: SEG planes 500 mm away
    for item in moved.PerFrameFunctionalGroupsSequence:
        position = item.PlanePositionSequence[0].ImagePositionPatient
        item.PlanePositionSequence[0].ImagePositionPatient = [position[0], position[1], float(position[2]) + 500]
    moved.save_as(segs[1])
    (root / "broken.dcm").write_bytes(b"not a dicom file")
    result = _read(root)
    reasons = {bad.name: bad.reason for bad in result.bad}
    assert reasons["broken.dcm"].startswith("unreadable DICOM file")
    assert sum("missing label" in r for r in reasons.values()) == 1
    assert sum("geometry does not match" in r for r in reasons.values()) == 1
    assert len(result.cases) == 9 - 2
    source = DicomSource(format="dicom", path=str(root), classes=[{"name": "lesion"}])
    with pytest.raises(UserError, match="broken.dcm: unreadable"):
        read_cases(source, max_bad_fraction=0.2)
    assert len(read_cases(source, max_bad_fraction=0.5).cases) == 7


@pytest.mark.verifies("SRS-DATA-007")
def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="DICOM folder not found"):
        read_cases(DicomSource(format="dicom", path=str(tmp_path / "nope"), classes=[{"name": "lesion"}]), max_bad_fraction=1.0)


def test_the_series_volume_is_what_highdicom_builds_in_any_slice_order(tiny_dicom):
    import highdicom as hd

    checked = 0
    for (modality, _), paths in _series_files(tiny_dicom).items():
        if modality != "CT" or len(paths) < 2:
            continue
        slices = [pydicom.dcmread(p) for p in paths]
        reference = hd.get_volume_from_series(slices, dtype=np.float32)
        for order in (slices, slices[::-1]):
            volume = dicom.series_volume(list(order))
            assert volume.array.dtype == np.float32
            assert np.array_equal(volume.array, reference.array)
            assert np.allclose(volume.affine, reference.affine)
        checked += 1
    assert checked >= 2


def test_a_series_volume_refuses_mixed_or_uneven_slices(tiny_dicom):
    series = [paths for (modality, _), paths in _series_files(tiny_dicom).items() if modality == "CT" and len(paths) > 3]
    slices = [pydicom.dcmread(p) for p in series[0]]
    uneven = [ds for ds in slices if ds is not sorted(slices, key=lambda d: float(d.ImagePositionPatient[2]))[1]]
    with pytest.raises(ValueError, match="regularly-spaced"):
        dicom.series_volume(uneven)
    tilted = [pydicom.dcmread(p) for p in series[0]]
    tilted[0].ImageOrientationPatient = [0, 1, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="orientation"):
        dicom.series_volume(tilted)
    other = [pydicom.dcmread(p) for p in series[0]] + [pydicom.dcmread(series[1][0])]
    with pytest.raises(ValueError, match="same series"):
        dicom.series_volume(other)
