"""The Annex E table is applied as data: every row, every option column, repeating groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.deid.params import ProfileOptions
from pipeline.deid.profile import TABLE_PATH, build_profile, load_table, resolve_row

SHARED = Path(__file__).resolve().parents[3] / "shared" / "dicom" / "confidentiality_profile_attributes.json"


@pytest.mark.verifies("SRS-DEID-001")
def test_project_table_equals_the_shared_table():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent (outside the shared workspace)")
    assert json.loads(TABLE_PATH.read_text()) == json.loads(SHARED.read_text())


@pytest.mark.verifies("SRS-DEID-001")
def test_every_row_resolves_to_one_action():
    profile = build_profile(ProfileOptions(retain_longitudinal_temporal="off"))
    rows = load_table(TABLE_PATH)
    assert profile.rows == len(rows) == 621
    assert len(profile.actions) + len(profile.repeating) + 1 == len(rows)
    assert set(profile.actions.values()) <= {"X", "Z", "D", "U", "U*"}
    assert {r["basicProfile"] for r in rows} >= {"D", "Z", "X", "U", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}


@pytest.mark.verifies("SRS-DEID-001")
@pytest.mark.parametrize("code, expected", [("X/Z", "Z"), ("X/D", "D"), ("X/Z/D", "Z"), ("Z/D", "Z"),
                                            ("X/Z/U*", "U*"), ("K", "K"), ("C", "C")])
def test_combined_codes_resolve_to_the_least_destructive_removal(code, expected):
    assert resolve_row({"name": "n", "basicProfile": code}, []) == expected


@pytest.mark.verifies("SRS-DEID-001")
def test_repeating_groups_and_private_row():
    profile = build_profile(ProfileOptions())
    assert profile.action(0x60003000) == "X" and profile.action(0x601E3000) == "X"  # overlay data
    assert profile.action(0x50021234) == "X"  # curve data, any element
    assert profile.private_action == "X"
    assert build_profile(ProfileOptions(clean_graphics=True)).action(0x60023000) == "C"
    assert build_profile(ProfileOptions(retain_safe_private=True)).private_action == "C"


@pytest.mark.verifies("SRS-DEID-002")
@pytest.mark.parametrize("option, tag, before, after", [
    ("retain_patient_characteristics", 0x00100040, "Z", "K"),   # PatientSex
    ("retain_device_identity", 0x00181000, "Z", "K"),           # DeviceSerialNumber (X/Z/D)
    ("retain_institution_identity", 0x00080080, "Z", "K"),      # InstitutionName
    ("retain_uids", 0x0020000D, "U", "K"),                      # StudyInstanceUID
    ("clean_descriptors", 0x0008103E, "X", "C"),                # SeriesDescription
    ("clean_structured_content", 0x0040A730, "D", "C"),         # ContentSequence
])
def test_each_option_changes_its_rows(option, tag, before, after):
    off = build_profile(ProfileOptions(retain_longitudinal_temporal="off"))
    on = build_profile(ProfileOptions(retain_longitudinal_temporal="off", **{option: True}))
    assert (off.action(tag), on.action(tag)) == (before, after)


@pytest.mark.verifies("SRS-DEID-002", "SRS-DEID-006")
def test_date_options_and_method_codes():
    study_date = 0x00080020
    assert build_profile(ProfileOptions(retain_longitudinal_temporal="off")).action(study_date) == "Z"
    assert build_profile(ProfileOptions(retain_longitudinal_temporal="full")).action(study_date) == "K"
    modified = build_profile(ProfileOptions(retain_longitudinal_temporal="modified", clean_descriptors=True))
    assert modified.action(study_date) == "C"
    assert [code for code, _ in modified.method_codes()] == ["113100", "113107", "113105"]
