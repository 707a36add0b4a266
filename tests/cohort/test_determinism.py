"""The cohort is a function of its params: same seed, same bytes; another seed, other data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cohort.generate import run
from tests.cohort.tiny import tiny_params


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.verifies("SRS-DATA-001")
def test_same_seed_gives_identical_files(tiny_cohort, tmp_path):
    first, _ = tiny_cohort
    run(tiny_params(), tmp_path / "again")
    a, b = _files(first), _files(tmp_path / "again")
    assert a.keys() == b.keys()
    different = [name for name in a if a[name] != b[name]]
    assert different == []


@pytest.mark.verifies("SRS-DATA-001")
def test_worker_processes_give_identical_files_and_summary(tiny_cohort, tmp_path):
    first, summary = tiny_cohort
    parallel = run(tiny_params(workers=2), tmp_path / "parallel")
    a, b = _files(first), _files(tmp_path / "parallel")
    assert a.keys() == b.keys() and [name for name in a if a[name] != b[name]] == []
    assert parallel == summary


@pytest.mark.verifies("SRS-DATA-001")
def test_other_seed_gives_other_patients(tiny_cohort, tmp_path):
    first, _ = tiny_cohort
    run(tiny_params(seed=8), tmp_path / "other")
    patients_a = {p.name for p in first.glob("*/*")}
    patients_b = {p.name for p in (tmp_path / "other").glob("*/*")}
    assert patients_a.isdisjoint(patients_b)


@pytest.mark.verifies("SRS-DATA-001")
def test_summary_counts_match_the_files(tiny_cohort):
    out, summary = tiny_cohort
    assert summary["patients"] == 6
    assert summary["patients_per_site"] == {"alpha": 3, "beta": 3}
    assert summary["studies"] == 6 + 3  # every 2nd patient has a follow-up
    assert summary["dose_report_series"] == 3  # patients 3 and 6; patient 6 has two studies
    assert summary["files"] == sum(1 for p in out.rglob("*.dcm"))


@pytest.mark.verifies("SRS-PLAT-002")
def test_failed_generation_leaves_previous_output_untouched(tiny_cohort, tmp_path, monkeypatch):
    from pipeline.cohort import dicom_series

    out = tmp_path / "raw"
    out.mkdir()
    (out / "previous.txt").write_text("finished earlier")
    calls = {"n": 0}
    real_write = dicom_series.write

    def failing_write(ds, path):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError("disk full")
        real_write(ds, path)

    monkeypatch.setattr(dicom_series, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        run(tiny_params(), out)
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temporary folder left behind


@pytest.mark.verifies("SRS-DATA-001", "SRS-VNV-007")
def test_the_external_cohort_comes_from_its_own_seed(tmp_path):
    from pipeline.cohort.params import ExternalCohortParams
    from tests.cohort.tiny import SITE

    external = {"seed": 3, "patients_per_site": 2, "sites": [
        dict(SITE, name="gamma", institution="Elsewhere Hospital", manufacturer="GAMMA",
             pixel_spacing_mm=2.2, slice_thickness_mm=4.5)]}
    params = tiny_params().model_copy(update={"external": ExternalCohortParams.model_validate(external)})
    summary = run(params, tmp_path / "a")
    assert summary["patients_per_site"] == {"alpha": 3, "beta": 3, "gamma": 2}
    assert summary["external_sites"] == ["gamma"] and summary["external_seed"] == 3
    other = params.model_copy(update={"seed": 8, "patients_per_site": 2})
    run(other, tmp_path / "b")
    assert _files(tmp_path / "a" / "gamma") == _files(tmp_path / "b" / "gamma")
    assert _files(tmp_path / "a" / "alpha").keys().isdisjoint(_files(tmp_path / "b" / "alpha").keys())


@pytest.mark.verifies("SRS-DATA-001")
def test_ct_slice_with_shared_raw_header_is_written_as_pydicom_writes_it_decoded(tiny_cohort, tmp_path):
    """The CT slices carry their series header as raw elements, encoded once (``dicom_series._encoded``):
    a slice read back, every element decoded and written by pydicom's usual path, gives the same bytes."""
    import pydicom

    first, _ = tiny_cohort
    path = sorted(first.rglob("CT/*.dcm"))[0]
    ds = pydicom.dcmread(path)
    decoded = pydicom.Dataset()
    for tag in ds.keys():
        decoded[tag] = ds[tag]  # converted from raw
    decoded.file_meta = ds.file_meta
    assert not any(element.is_raw for element in decoded.elements())
    decoded.save_as(tmp_path / "decoded.dcm", enforce_file_format=True)
    assert (tmp_path / "decoded.dcm").read_bytes() == path.read_bytes()
