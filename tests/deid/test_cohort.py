"""The stage on the synthetic cohort: relations, dates, burned-in, report, paths, keys, reruns."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from pipeline.core.errors import UserError
from tests.deid.conftest import OTHER_KEY, deid_params, deid_run


def _headers(root: Path) -> dict[Path, pydicom.Dataset]:
    return {p: pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(root.rglob("*.dcm"))}


@pytest.mark.verifies("SRS-DEID-004", "SRS-DEID-010")
def test_relations_survive_and_seg_stays_a_valid_segmentation(raw_cohort, deid_cohort):
    report, paths = deid_cohort
    raw, out = _headers(raw_cohort), _headers(paths.output)
    assert len({d.StudyInstanceUID for d in raw.values()}) == len({d.StudyInstanceUID for d in out.values()})
    by_study = defaultdict(list)
    for path, ds in out.items():
        by_study[ds.StudyInstanceUID].append((path, ds))
    for study, items in by_study.items():
        cts = [(p, d) for p, d in items if d.Modality == "CT"]
        segs = [p for p, d in items if d.Modality == "SEG"]
        assert len(segs) == 1 and cts
        seg = hd.seg.segread(segs[0])
        referenced = seg.ReferencedSeriesSequence[0]
        assert referenced.SeriesInstanceUID == cts[0][1].SeriesInstanceUID
        assert {i.ReferencedSOPInstanceUID for i in referenced.ReferencedInstanceSequence} == {d.SOPInstanceUID for _, d in cts}
        assert seg.FrameOfReferenceUID == cts[0][1].FrameOfReferenceUID
        assert seg.SegmentSequence[0].SegmentLabel == "lesion"
        assert all(p.parent.parent == segs[0].parent.parent for p, _ in cts)  # one study folder
        assert all(p.name == f"{d.SOPInstanceUID}.dcm" for p, d in cts)
        assert cts[0][1].file_meta.MediaStorageSOPInstanceUID == cts[0][1].SOPInstanceUID


@pytest.mark.verifies("SRS-DEID-001")
def test_geometry_and_pixels_are_unchanged(raw_cohort, deid_cohort):
    _, paths = deid_cohort
    raw = {(float(d.ImagePositionPatient[2]), d.Rows, d.Columns, str(d.PixelSpacing)): d
           for d in (pydicom.dcmread(p) for p in raw_cohort.rglob("IM00*.dcm"))}
    outputs = [pydicom.dcmread(p) for p in sorted(paths.output.rglob("CT_*/*.dcm"))[:20]]
    for ds in outputs:
        twin = next(r for k, r in raw.items() if k[0] == float(ds.ImagePositionPatient[2])
                    and r.SliceThickness == ds.SliceThickness and np.array_equal(r.pixel_array, ds.pixel_array))
        for keyword in ("ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns",
                        "RescaleIntercept", "RescaleSlope", "PatientSex", "PatientAge", "Manufacturer"):
            assert ds.get(keyword) == twin.get(keyword), keyword


@pytest.mark.verifies("SRS-DEID-004")
def test_one_date_offset_per_patient(raw_cohort, deid_cohort):
    _, paths = deid_cohort
    raw_by_uid = {d.SOPInstanceUID: d for d in _headers(raw_cohort).values()}
    from pipeline.deid.pseudonyms import Pseudonymizer  # the same keyed map, to pair files
    from tests.deid.conftest import KEY
    pseudo = Pseudonymizer(KEY, "2.25", "SUBJ-", (-1460, -30))
    offsets = defaultdict(set)
    for uid, ds in raw_by_uid.items():
        out = list(paths.output.rglob(f"{pseudo.uid(uid)}.dcm"))
        if not out:
            continue
        new = pydicom.dcmread(out[0], stop_before_pixels=True)
        delta = (np.datetime64(_iso(new.StudyDate)) - np.datetime64(_iso(ds.StudyDate))).astype(int)
        offsets[new.PatientID].add(int(delta))
        assert new.StudyTime == ds.StudyTime
    assert all(len(v) == 1 for v in offsets.values())
    assert len({next(iter(v)) for v in offsets.values()}) > 1  # not one offset for everyone
    assert all(-1460 <= next(iter(v)) <= -30 for v in offsets.values())


def _iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}"


@pytest.mark.verifies("SRS-DEID-006", "SRS-DEID-007", "SRS-DEID-008")
def test_report_marks_and_burned_in_quarantine(raw_cohort, deid_cohort):
    report, paths = deid_cohort
    files = [p for p in raw_cohort.rglob("*") if p.is_file()]
    doses = [p for p in files if p.parent.name == "DOSE"]
    assert report["files_in"] == len(files) == report["written"] + report["quarantined"]
    assert report["quarantined_by_reason"] == {"burned_in_annotation": len(doses)} and doses
    assert len(list((paths.quarantine / "burned_in_annotation").iterdir())) == len(doses)
    ds = pydicom.dcmread(next(paths.output.rglob("*.dcm")), stop_before_pixels=True)
    assert ds.PatientIdentityRemoved == "YES" and ds.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113107", "113105", "113108", "113109", "113112"}


@pytest.mark.verifies("SRS-DEID-010", "SRS-DEID-005")
def test_output_paths_and_report_carry_no_identifier_and_no_key(raw_cohort, deid_cohort):
    report, paths = deid_cohort
    identifiers = set()
    for ds in _headers(raw_cohort).values():
        identifiers |= {ds.PatientID, ds.AccessionNumber, ds.PatientName.family_name, ds.StudyDate}
    text = "\n".join(p.relative_to(paths.output).as_posix() for p in paths.output.rglob("*"))
    text += paths.report.read_text()
    assert not [i for i in identifiers if i and i.upper() in text.upper()]
    from tests.deid.conftest import KEY
    assert KEY.reveal().decode() not in text
    assert all(KEY.reveal() not in p.read_bytes() for p in list(paths.output.rglob("*.dcm"))[:50])


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-004", "SRS-DEID-009")
def test_same_key_same_bytes_other_key_unlinkable_and_rerun_on_output(raw_cohort, deid_cohort, tmp_path):
    report, paths = deid_cohort
    again, again_paths = deid_run(raw_cohort, tmp_path / "again")
    first = {p.relative_to(paths.output): p.read_bytes() for p in paths.output.rglob("*.dcm")}
    second = {p.relative_to(again_paths.output): p.read_bytes() for p in again_paths.output.rglob("*.dcm")}
    assert first == second
    other, other_paths = deid_run(raw_cohort, tmp_path / "other", key=OTHER_KEY)
    a, b = _headers(paths.output), _headers(other_paths.output)
    uids = lambda h: {d.PatientID for d in h.values()} | {d.StudyInstanceUID for d in h.values()}  # noqa: E731
    assert uids(a).isdisjoint(uids(b)) and other["written"] == report["written"]
    rerun, rerun_paths = deid_run(paths.output, tmp_path / "rerun")
    assert rerun["leak_check"]["leaks"] == 0 and rerun["written"] == report["written"]


@pytest.mark.verifies("SRS-DEID-008", "SRS-PLAT-002")
def test_quarantine_ceiling_fails_clearly_and_leaves_no_output(raw_cohort, tmp_path):
    with pytest.raises(UserError, match="max_quarantined_share"):
        deid_run(raw_cohort, tmp_path, deid_params(max_quarantined_share=0.0))
    assert not (tmp_path / "out").exists()
    assert '"status": "failed"' in (tmp_path / "report.json").read_text()


@pytest.mark.verifies("SRS-DEID-007")
def test_blank_mode_blanks_regions_and_marks_clean_pixel_data(raw_cohort, tmp_path):
    doses = [p for p in raw_cohort.rglob("*.dcm") if p.parent.name == "DOSE"]
    src = tmp_path / "src"
    src.mkdir()
    (src / "dose.dcm").write_bytes(doses[0].read_bytes())
    params = deid_params(burned_in={"mode": "blank", "regions": [
        {"row_start": 0, "row_stop": 120, "column_start": 0, "column_stop": 256}]})
    report, paths = deid_run(src, tmp_path / "run", params)
    assert report["written"] == 1
    ds = pydicom.dcmread(next(paths.output.rglob("*.dcm")))
    assert ds.BurnedInAnnotation == "NO" and int(ds.pixel_array[:120].max()) == int(ds.pixel_array.min())
    assert "113101" in {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-004", "SRS-PLAT-005")
def test_worker_processes_give_the_same_bytes(raw_cohort, deid_cohort, tmp_path):
    single, paths = deid_cohort
    report, parallel_paths = deid_run(raw_cohort, tmp_path, deid_params(workers=2))
    first = {p.relative_to(paths.output): p.read_bytes() for p in paths.output.rglob("*.dcm")}
    second = {p.relative_to(parallel_paths.output): p.read_bytes() for p in parallel_paths.output.rglob("*.dcm")}
    assert first == second and report["leak_check"] == single["leak_check"]
    assert report["leak_check"]["leaks"] == 0
