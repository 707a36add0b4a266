"""Person names in every form: the cleaner removes them and the leak check finds them."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from pipeline.core.errors import UserError
from pipeline.deid import leakcheck, leaknames, names, textclean
from pipeline.deid.profile import TABLE_PATH
from tests.deid.conftest import deid_run, one_study

OPTIONS = ("rtnPatCharsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "cleanDescOpt", "rtnLongModifDatesOpt")


def _renamed_study(raw_cohort: Path, dest: Path, private_name: str | None = None,
                   pattern: str = "IM*.dcm", new_name: str = "SOMEONE^ELSE",
                   comment: str | None = None) -> tuple[Path, str]:
    """One study whose CT files' PatientName says ``new_name``; their private copy keeps the
    real name (or ``private_name``)."""
    src = one_study(raw_cohort, dest)
    real = None
    for path in sorted(src.rglob(pattern)):
        ds = pydicom.dcmread(path)
        real = real or str(ds.PatientName)
        ds.PatientName = new_name
        if private_name is not None:
            block = ds.private_block(0x0009, "SYNTH PACS 1.0", create=True)
            block.add_new(0x01, "LO", private_name)
        if comment is not None:
            ds.ImageComments = comment
        ds.save_as(path)
    return src, real


def _texts(root: Path) -> str:
    found = []
    for path in sorted(root.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        found += [str(e.value) for e in ds.iterall() if e.VR in ("LO", "SH", "LT", "ST", "UT", "UC", "PN")]
    return "\n".join(found).upper()


@pytest.mark.verifies("SRS-DEID-013")
def test_attack_a_renamed_patient_keeps_no_name_in_any_text(raw_cohort, tmp_path):
    src, real = _renamed_study(raw_cohort, tmp_path / "src")
    family, given = real.split("^")[:2]
    assert given.title() + " " + family.title() in (src / "study").joinpath(
        next((src / "study").rglob("*.dcm")).relative_to(src / "study")).read_bytes().decode("latin-1")
    report, paths = deid_run(src, tmp_path / "run")
    assert report["leak_check"]["leaks"] == 0 and report["written"] > 0
    text = _texts(paths.output)
    assert family not in text and given not in text and "SOMEONE" not in text


@pytest.mark.verifies("SRS-DEID-013", "SRS-DEID-009")
def test_a_name_only_in_the_free_text_of_a_file_fails_the_run_naming_the_leak(raw_cohort, tmp_path):
    # The SEG has no private copy: renamed, its descriptions are the only trace of the name in
    # that file, which the per-file cleaner cannot know; the check knows it from the CT files.
    src, _ = _renamed_study(raw_cohort, tmp_path / "src", pattern="*.dcm")
    with pytest.raises(UserError, match=r"leak check found .*SEG_.*person name"):
        deid_run(src, tmp_path / "run")
    assert not (tmp_path / "run" / "out").exists()


@pytest.mark.verifies("SRS-DEID-013")
def test_a_short_name_is_cleaned_in_any_order(raw_cohort, tmp_path):
    src, _ = _renamed_study(raw_cohort, tmp_path / "src", new_name="WU^LI",
                            comment="Scanned for Li Wu; seen by wu, li")
    report, paths = deid_run(src, tmp_path / "run")
    assert report["leak_check"]["leaks"] == 0
    text = _texts(paths.output)
    assert "LI WU" not in text and "WU, LI" not in text and "SCANNED FOR" in text


@pytest.mark.verifies("SRS-DEID-013", "SRS-DEID-009")
@pytest.mark.parametrize("private_name, text", [
    ("OKAFOR^HUGO^J", "Scanned for Hugo Okafor"),
    ("OKAFOR^HUGO^J", "seen: okafor, hugo"),
    ("OKAFOR^HUGO^J", "Hugo J. Okafor referred"),
    ("WU^LI", "patient Li Wu"),               # every word too short to be searched alone
    ("DA SILVA^ANA", "Ana da Silva"),         # a component with a space
])
def test_leak_check_finds_a_private_name_in_any_order_and_case(raw_cohort, deid_cohort, tmp_path,
                                                               private_name, text):
    _, paths = deid_cohort
    src, _ = _renamed_study(raw_cohort, tmp_path / "src", private_name=private_name)
    raw = sorted(src.rglob("*.dcm"))[0]
    out = tmp_path / "out" / "a.dcm"
    out.parent.mkdir()
    ds = pydicom.dcmread(sorted(paths.output.rglob("*.dcm"))[0])
    ds.ImageComments = text
    ds.save_as(out)
    result = leakcheck.check(src, [raw], out.parent, {}, leakcheck.LeakPolicy(TABLE_PATH, OPTIONS))
    assert any(leak.kind.startswith("person name") for leak in result.leaks), result.leaks


@pytest.mark.verifies("SRS-DEID-013")
def test_name_shapes_and_private_dictionary_names():
    assert leaknames.shaped_like_name("OKAFOR^HUGO^J") and names.shaped_like_name("Doe^John^^Dr.")
    assert not leaknames.shaped_like_name("1.2^3") and not names.shaped_like_name("CT ABDOMEN")
    assert leaknames.described_as_name("SIEMENS ISI", 0x001110B0)  # "Patient Last Name" (LO)
    assert not leaknames.described_as_name("GEMS_DL_SERIES", 0x001910AE)  # "SUB operator LUTs names"
    ds = pydicom.Dataset()
    ds.private_block(0x0011, "SIEMENS ISI", create=True).add_new(0xB0, "LO", "Okafor")
    ds.private_block(0x0013, "ANY VENDOR", create=True).add_new(0x01, "LO", "not a name")
    assert names.private_names(ds, pydicom.tag.Tag(0x001110B0)) == ["Okafor"]
    assert names.private_names(ds, pydicom.tag.Tag(0x00131001)) == []


@pytest.mark.verifies("SRS-DEID-013")
def test_titles_and_short_words_are_not_needles_and_initials_alone_stay():
    found = leaknames.person_needles("Okafor^Hugo^J^Dr^Jr", 3, 5)
    assert {"OKAFOR", "HUGO", "HUGO OKAFOR", "OKAFOR HUGO", "HUGO J OKAFOR"} <= set(found)
    assert not {"J", "DR", "JR"} & set(found)
    people = frozenset({names.words_of("OKAFOR^HUGO^J"), names.words_of("BERGER^A^B")})
    words = textclean.identifier_words(["OKAFOR^HUGO^J", "BERGER^A^B"])
    assert textclean.clean_text("CT A B J, Dr Okafor", words, True, people) == "CT A B J, Dr"


@pytest.mark.verifies("SRS-DEID-013")
def test_names_inside_a_removed_sequence_are_gathered():
    ds = pydicom.Dataset()
    item = pydicom.Dataset()
    item.PersonName = "OKAFOR^HUGO"
    item.private_block(0x0029, "ANY", create=True).add_new(0x01, "LO", "WU^LI")
    ds.ContentSequence = [item]
    assert names.removed_sequence_names(ds, pydicom.tag.Tag("ContentSequence")) == ["OKAFOR^HUGO", "WU^LI"]
