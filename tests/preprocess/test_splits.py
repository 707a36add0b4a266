"""Patient-level splits: independence, stratification by site, seed stability, recorded hashes."""

from __future__ import annotations

import pytest

from pipeline.preprocess.params import SplitParams
from pipeline.preprocess.splits import SPLITS, check_independent, make_splits

pytestmark = pytest.mark.verifies("SRS-DATA-009")


def _cases(sites=("a", "b", "c"), patients=8):
    cases = []
    for site in sites:
        for p in range(patients):
            for study in range(2 if p % 3 == 0 else 1):  # follow-up studies share the patient
                cases.append({"case_id": f"{site}-{p}-{study}", "patient_id": f"{site}{p}",
                              "site": site, "sha256": f"h{site}{p}{study}"})
    return cases


def _params(seed=1, **kw):
    return SplitParams(seed=seed, val_fraction=0.25, test_fraction=0.25, **kw)


def _patients(record, split):
    return {c["patient_id"] for c in record["splits"][split]}


def test_no_patient_in_two_splits_and_every_case_assigned():
    record = make_splits(_cases(), _params())
    assigned = [c["case_id"] for split in SPLITS for c in record["splits"][split]]
    assert sorted(assigned) == sorted(c["case_id"] for c in _cases())
    for one in SPLITS:
        for other in SPLITS:
            if one < other:
                assert not _patients(record, one) & _patients(record, other)


def test_stratified_by_site_with_the_requested_shares():
    record = make_splits(_cases(), _params())
    for split, patients_per_site in (("test", 2), ("val", 2), ("train", 4)):
        per_site = {}
        for case in record["splits"][split]:
            per_site.setdefault(case["stratum"], set()).add(case["patient_id"])
        assert {site: len(p) for site, p in per_site.items()} == {s: patients_per_site for s in "abc"}


def test_same_seed_same_split_other_seed_differs_and_other_sites_do_not_move_it():
    first = make_splits(_cases(), _params(seed=5))
    assert make_splits(list(reversed(_cases())), _params(seed=5)) == first
    assert make_splits(_cases(), _params(seed=6))["splits"] != first["splits"]
    grown = make_splits(_cases(sites=("a", "b", "c", "d")), _params(seed=5))
    for split in SPLITS:
        assert {p for p in _patients(grown, split) if p[0] in "abc"} == _patients(first, split)


def test_recorded_with_case_ids_hashes_and_test_locked():
    record = make_splits(_cases(), _params())
    assert record["locked"] == ["test", "external"] and record["seed"] == 1 and record["stratify_by"] == "site"
    entry = record["splits"]["test"][0]
    assert set(entry) == {"case_id", "patient_id", "sha256", "stratum"}
    assert record["counts"]["test"]["patients"] == 6


def test_overlap_detected():
    with pytest.raises(ValueError, match="patient_id a1 is in both"):
        check_independent({"train": [{"case_id": "x", "patient_id": "a1"}],
                           "test": [{"case_id": "y", "patient_id": "a1"}]})


def test_renaming_every_patient_and_case_keeps_the_split_and_the_order():
    # pseudonyms change with the de-identification key; the content hashes do not
    cases = _cases()
    renamed = [dict(c, patient_id=f"other-{c['patient_id'][::-1]}", case_id=f"x-{c['case_id'][::-1]}")
               for c in cases]
    first, second = make_splits(cases, _params(seed=5)), make_splits(renamed, _params(seed=5))
    for split in SPLITS:
        assert [c["sha256"] for c in first["splits"][split]] == [c["sha256"] for c in second["splits"][split]]


@pytest.mark.verifies("SRS-VNV-007")
def test_external_sites_are_held_out_whole_and_do_not_move_the_other_splits():
    plain = make_splits(_cases(), _params(seed=5))
    record = make_splits(_cases(sites=("a", "b", "c", "d")), _params(seed=5, external_sites=["d"]))
    assert _patients(record, "external") == {f"d{p}" for p in range(8)}
    assert {c["case_id"] for c in record["splits"]["external"]} == {
        c["case_id"] for c in _cases(sites=("d",))}
    for split in ("train", "val", "test"):
        assert _patients(record, split) == _patients(plain, split)
    assert "external" in record["locked"] and record["external_sites"] == ["d"]


@pytest.mark.verifies("SRS-VNV-007")
def test_an_external_site_no_case_comes_from_is_a_user_error():
    from pipeline.core.errors import UserError

    with pytest.raises(UserError, match=r"no case comes from: \['Dunmore'\]"):
        make_splits(_cases(), _params(external_sites=["Dunmore"]))


@pytest.mark.verifies("SRS-VNV-007")
def test_a_patient_with_studies_at_an_external_and_a_development_site_is_refused():
    from pipeline.core.errors import UserError

    cases = _cases(sites=("a", "b", "c", "d"))
    cases.append({"case_id": "moved", "patient_id": "a0", "site": "d", "sha256": "hmoved"})
    with pytest.raises(UserError, match="whole patients"):
        make_splits(cases, _params(external_sites=["d"]))
