"""The independent leak check finds injected identifiers and stays quiet on clean output."""

from __future__ import annotations

import ast
from pathlib import Path

import pydicom
import pytest

from pipeline.deid import leakcheck
from pipeline.deid.profile import TABLE_PATH


def _policy(*columns):
    return leakcheck.LeakPolicy(TABLE_PATH, tuple(columns))


def _copy_with(src: Path, dst: Path, change) -> None:
    ds = pydicom.dcmread(src)
    change(ds)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)


@pytest.mark.verifies("SRS-DEID-009")
def test_leak_check_imports_nothing_from_the_deidentifier():
    from pipeline.deid import leaknames, leakvalues

    own = (leakcheck, leakvalues, leaknames)
    tree = ast.parse("\n".join(Path(module.__file__).read_text() for module in own))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module != "pipeline.deid"}
    imported |= {f"pipeline.deid.{a.name}" for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module == "pipeline.deid" for a in n.names}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {name for name in imported if name and name.startswith("pipeline")} <= {
        "pipeline.deid.leakvalues", "pipeline.deid.leaknames"}


@pytest.mark.verifies("SRS-DEID-009")
def test_clean_output_has_no_leak(deid_cohort, raw_cohort):
    report, paths = deid_cohort
    assert report["leak_check"]["leaks"] == 0 and report["leak_check"]["identifying_values"] > 50


@pytest.mark.verifies("SRS-DEID-009", "SRS-DEID-010")
@pytest.mark.parametrize("name, change", [
    ("nested name", lambda ds: ds.RequestAttributesSequence[0].__setattr__("RequestedProcedureDescription", ds._raw_name)),
    ("private", lambda ds: ds.private_block(0x0011, "X", create=True).add_new(0x01, "LO", ds._raw_id)),
    ("name in text", lambda ds: ds.__setattr__("ImageComments", f"see {ds._raw_family} again")),
    ("old uid", lambda ds: ds.__setattr__("FrameOfReferenceUID", ds._raw_frame)),
])
def test_injected_identifiers_are_found(deid_cohort, raw_cohort, tmp_path, name, change):
    report, paths = deid_cohort
    raw = sorted(raw_cohort.rglob("IM0001.dcm"))[0]
    original = pydicom.dcmread(raw)
    output = sorted(paths.output.rglob("*.dcm"))[0]

    def inject(ds):
        ds._raw_name, ds._raw_id = str(original.PatientName), original.PatientID
        ds._raw_family, ds._raw_frame = original.PatientName.family_name, original.FrameOfReferenceUID
        if "RequestAttributesSequence" not in ds:
            ds.RequestAttributesSequence = [pydicom.Dataset()]
        change(ds)

    out = tmp_path / "out"
    _copy_with(output, out / "a.dcm", inject)
    policy = _policy("rtnPatCharsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "cleanDescOpt", "rtnLongModifDatesOpt")
    result = leakcheck.check(raw_cohort, [raw], out, {}, policy)
    assert result.leaks, name
    assert all(original.PatientID not in leak.kind + leak.where for leak in result.leaks)


@pytest.mark.verifies("SRS-DEID-009", "SRS-DEID-010")
def test_identifier_in_an_output_path_and_an_unshifted_date_are_found(raw_cohort, deid_cohort, tmp_path):
    _, paths = deid_cohort
    raw = sorted(raw_cohort.rglob("IM0001.dcm"))[0]
    patient_folder = raw.relative_to(raw_cohort).parts[1]
    output = sorted(paths.output.rglob("*.dcm"))[0]
    out = tmp_path / "out"
    target = out / patient_folder / "x.dcm"
    _copy_with(output, target, lambda ds: ds.__setattr__("StudyDate", pydicom.dcmread(raw).StudyDate))
    policy = _policy("rtnLongModifDatesOpt")
    result = leakcheck.check(raw_cohort, [raw], out, {target: raw}, policy)
    kinds = {leak.kind for leak in result.leaks}
    assert "date of the same input" in kinds
    assert any(leak.where == "path" for leak in result.leaks)


@pytest.mark.verifies("SRS-DEID-009")
def test_values_an_option_keeps_are_not_leaks(raw_cohort, deid_cohort):
    _, paths = deid_cohort
    inputs = sorted(p for p in raw_cohort.rglob("*") if p.is_file())
    kept = _policy("rtnPatCharsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "cleanDescOpt", "rtnLongModifDatesOpt")
    assert leakcheck.check(raw_cohort, inputs[:60], paths.output, {}, kept).leaks == []
    strict = _policy("cleanDescOpt", "rtnLongModifDatesOpt")  # institution name not meant to survive
    assert any("identifying text" in leak.kind for leak in leakcheck.check(raw_cohort, inputs[:60], paths.output, {}, strict).leaks)


@pytest.mark.verifies("SRS-DEID-009")
@pytest.mark.parametrize("folder, leaks", [
    ("2.25.3{date}7", False),            # inside the decimal hash of a new UID: chance, not a date
    ("2.25.31.{date}.7", True),          # a date kept as a UID component
    ("scan {date}", True),               # a date in free text
    ("scan_{date}7", False),             # a longer number that merely contains the digits
])
def test_input_date_inside_a_longer_number_is_not_a_leak(raw_cohort, deid_cohort, tmp_path, folder, leaks):
    _, paths = deid_cohort
    raw = sorted(raw_cohort.rglob("IM0001.dcm"))[0]
    date = pydicom.dcmread(raw).StudyDate
    target = tmp_path / "out" / folder.format(date=date) / "x.dcm"
    target.parent.mkdir(parents=True)
    target.write_bytes(sorted(paths.output.rglob("*.dcm"))[0].read_bytes())
    result = leakcheck.check(raw_cohort, [raw], tmp_path / "out", {}, _policy("rtnLongModifDatesOpt"))
    found = [leak for leak in result.leaks if leak.kind == "date in text (inside text)"]
    assert bool(found) is leaks
