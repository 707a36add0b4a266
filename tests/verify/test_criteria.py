"""Criterion evaluation: PASS, FAIL, INCONCLUSIVE (small or unknown subgroups), NOT APPLICABLE (data
without the attribute or the metric), release status."""

from __future__ import annotations

import pytest

from pipeline.design.items import AcceptanceCriterion
from pipeline.verify import criteria
from pipeline.verify.plan import validate_plan


def _criterion(**update) -> AcceptanceCriterion:
    base = {"id": "VAL-001", "title": "Dice", "requirements": ["SRS-VNV-002"],
            "models": ["teacher"], "split": "test", "metric": "dice", "statistic": "point",
            "comparison": ">=", "threshold": 0.8}
    return AcceptanceCriterion.model_validate({**base, **update})


def _plan(*items: AcceptanceCriterion):
    return validate_plan({
        "title": "t", "age_bands_years": [0, 50, 120],
        "release_policy": {"inconclusive_blocks_release": False, "rationale": "r"},
        "test_split_policy": {"max_evaluations": 3, "rationale": "r"},
        "criteria": [item.model_dump() for item in items]})


def _rows(dices, sites=None, sexes=None):
    sites = sites or ["a"] * len(dices)
    sexes = sexes or ["F"] * len(dices)
    return [{"case_id": f"c{i}", "patient_id": f"p{i}", "site": s, "manufacturer": "X", "sex": x,
             "age": 50, "dice": d} for i, (d, s, x) in enumerate(zip(dices, sites, sexes))]


@pytest.mark.verifies("SRS-VNV-004")
def test_point_statistic_passes_and_fails_on_the_threshold():
    rows = {"teacher": _rows([0.9, 0.8, 0.85])}
    passed = criteria.evaluate_criterion(_criterion(threshold=0.85), rows, [0, 100], 200, 0)
    failed = criteria.evaluate_criterion(_criterion(threshold=0.86), rows, [0, 100], 200, 0)
    assert passed["status"] == "PASS" and passed["models"]["teacher"]["value"] == pytest.approx(0.85)
    assert failed["status"] == "FAIL"
    upper = criteria.evaluate_criterion(_criterion(metric="dice", comparison="<=", threshold=0.5),
                                        rows, [0, 100], 200, 0)
    assert upper["status"] == "FAIL"


@pytest.mark.verifies("SRS-VNV-003")
def test_lower_confidence_bound_is_compared_not_the_mean():
    rows = {"teacher": _rows([0.99, 0.6, 0.99, 0.6])}
    point = criteria.evaluate_criterion(_criterion(threshold=0.75), rows, [0, 100], 500, 1)
    lower = criteria.evaluate_criterion(_criterion(statistic="ci95_lower", threshold=0.75), rows,
                                        [0, 100], 500, 1)
    assert point["status"] == "PASS" and lower["status"] == "FAIL"
    assert lower["models"]["teacher"]["value"] < 0.75 < point["models"]["teacher"]["value"]


@pytest.mark.verifies("SRS-VNV-003")
def test_small_and_unrecorded_subgroups_are_inconclusive_never_passed():
    crit = _criterion(subgroup={"by": "site", "min_size": 2})
    rows = {"teacher": _rows([0.9, 0.9, 0.95], sites=["a", "a", "b"])}
    result = criteria.evaluate_criterion(crit, rows, [0, 100], 100, 0)
    levels = result["models"]["teacher"]["subgroups"]
    assert levels["a"]["status"] == "PASS" and levels["b"]["status"] == "INCONCLUSIVE"
    assert result["status"] == "INCONCLUSIVE"
    by_sex = criteria.evaluate_criterion(_criterion(subgroup={"by": "sex", "min_size": 1}),
                                         {"teacher": _rows([0.9] * 3, sexes=["F", "unknown", "unknown"])},
                                         [0, 100], 100, 0)
    assert by_sex["status"] == "INCONCLUSIVE"
    assert "not recorded" in by_sex["models"]["teacher"]["subgroups"]["unknown"]["reason"]


@pytest.mark.verifies("SRS-VNV-003", "SRS-VNV-004")
def test_a_failing_subgroup_fails_the_criterion_even_beside_inconclusive_ones():
    crit = _criterion(subgroup={"by": "site", "min_size": 2})
    rows = {"teacher": _rows([0.5, 0.6, 0.95], sites=["a", "a", "b"])}
    result = criteria.evaluate_criterion(crit, rows, [0, 100], 100, 0)
    assert result["status"] == "FAIL" and result["models"]["teacher"]["value"] == pytest.approx(0.55)


@pytest.mark.verifies("SRS-VNV-004")
def test_release_status_follows_the_policy():
    results = {"VAL-001": {"status": "PASS"}, "VAL-002": {"status": "INCONCLUSIVE"}}
    assert criteria.release_status(results, False)["release_status"] == "releasable"
    assert criteria.release_status(results, True)["release_status"] == "not releasable"
    failed = {**results, "VAL-003": {"status": "FAIL"}}
    status = criteria.release_status(failed, False)
    assert status["release_status"] == "not releasable" and status["failed"] == ["VAL-003"]


@pytest.mark.verifies("SRS-VNV-001", "SRS-VNV-004")
def test_plan_evaluation_records_failures_without_raising():
    plan = _plan(_criterion(), _criterion(id="VAL-002", threshold=0.99))
    out = criteria.evaluate_plan(plan, {"teacher": _rows([0.9, 0.92])}, samples=100, seed=0)
    assert out["criteria"]["VAL-001"]["status"] == "PASS"
    assert out["criteria"]["VAL-002"]["status"] == "FAIL"
    assert out["release_status"] == "not releasable" and out["failed"] == ["VAL-002"]


@pytest.mark.verifies("SRS-VNV-003")
def test_missing_metric_values_make_the_result_inconclusive():
    rows = {"teacher": [{"case_id": "c", "patient_id": "p", "sensitivity": None}]}
    result = criteria.evaluate_criterion(_criterion(metric="sensitivity"), rows, [0, 100], 10, 0)
    assert result["status"] == "INCONCLUSIVE"
    assert criteria.evaluate_criterion(_criterion(), {}, [0, 100], 10, 0)["status"] == "INCONCLUSIVE"


@pytest.mark.verifies("SRS-VNV-004", "SRS-TRAIN-006")
def test_a_validation_split_criterion_reads_only_validation_rows():
    plan = _plan(_criterion(), _criterion(id="VAL-002", split="val", threshold=0.85))
    test_rows = {"teacher": _rows([0.9, 0.92])}
    low_val = criteria.evaluate_plan(plan, test_rows, 100, 0, {"val": {"teacher": _rows([0.7, 0.8])}})
    assert low_val["criteria"]["VAL-001"]["status"] == "PASS"
    assert low_val["criteria"]["VAL-002"]["status"] == "FAIL"
    assert low_val["criteria"]["VAL-002"]["split"] == "val"
    assert low_val["criteria"]["VAL-002"]["models"]["teacher"]["value"] == pytest.approx(0.75)
    not_measured = criteria.evaluate_plan(plan, test_rows, 100, 0)
    assert not_measured["criteria"]["VAL-002"]["status"] == "INCONCLUSIVE"


@pytest.mark.verifies("SRS-VNV-003", "SRS-VNV-004")
def test_subgroups_of_attributes_the_source_does_not_carry_are_not_applicable_with_the_reason():
    rows = {"teacher": [{**row, "site": "unknown", "manufacturer": "unknown", "sex": "unknown", "age": None,
                         "unrecorded": ["site", "manufacturer", "sex", "age"]}
                        for row in _rows([0.9, 0.95, 0.92])]}
    for by, attribute in (("site", "site"), ("sex", "sex"), ("age_band", "age")):
        result = criteria.evaluate_criterion(_criterion(subgroup={"by": by, "min_size": 1}), rows, [0, 100], 100, 0)
        assert result["status"] == "NOT APPLICABLE", by
        model = result["models"]["teacher"]
        assert model["reason"] == ("not applicable: the data source of the test split does not record "
                                   f"the attribute {attribute}")
        assert model["value"] is None and model["estimate"] is None
    # a source that carries the attribute but lacks it in every case (DICOM whose PatientSex
    # de-identification removed) could have answered: INCONCLUSIVE, never NOT APPLICABLE
    unknown = {"teacher": _rows([0.9] * 3, sexes=["unknown"] * 3)}
    by_sex = criteria.evaluate_criterion(_criterion(subgroup={"by": "sex", "min_size": 1}), unknown, [0, 100], 100, 0)
    assert by_sex["status"] == "INCONCLUSIVE"
    # an age outside every band is recorded: an unknown level, not a missing attribute
    old = {"teacher": [{**row, "age": 130, "unrecorded": []} for row in rows["teacher"]]}
    by_age = criteria.evaluate_criterion(_criterion(subgroup={"by": "age_band", "min_size": 1}), old, [0, 100], 100, 0)
    assert by_age["status"] == "INCONCLUSIVE"


@pytest.mark.verifies("SRS-VNV-004")
def test_what_the_data_cannot_answer_is_not_applicable_even_for_an_absent_model():
    crit = _criterion(metric="abs_volume_error_ml", comparison="<=", threshold=0.5, models=["teacher", "compressed"])
    rows = {"teacher": [{**row, "abs_volume_error_ml": float("nan")} for row in _rows([0.9, 0.9])]}
    result = criteria.evaluate_criterion(crit, rows, [0, 100], 100, 0, absent={"compressed": "not released"},
                                         undefined={"abs_volume_error_ml": "is a volume"})
    assert result["status"] == "NOT APPLICABLE"
    assert {m["reason"] for m in result["models"].values()} == {"not applicable: abs_volume_error_ml is a volume"}
    per_site = _criterion(subgroup={"by": "site", "min_size": 1}, models=["teacher", "compressed"])
    no_site = {"teacher": [{**row, "site": "unknown", "unrecorded": ["site"]} for row in rows["teacher"]]}
    by_site = criteria.evaluate_criterion(per_site, no_site, [0, 100], 100, 0, absent={"compressed": "not released"})
    assert by_site["status"] == "NOT APPLICABLE" and by_site["models"]["compressed"]["status"] == "NOT APPLICABLE"


@pytest.mark.verifies("SRS-VNV-004")
def test_not_applicable_is_neither_a_pass_nor_a_failure():
    assert criteria.combine(["NOT APPLICABLE", "PASS"]) == "PASS"
    assert criteria.combine(["NOT APPLICABLE", "FAIL"]) == "FAIL"
    assert criteria.combine(["NOT APPLICABLE", "NOT APPLICABLE"]) == "NOT APPLICABLE"
    results = {"VAL-001": {"status": "PASS"}, "VAL-002": {"status": "NOT APPLICABLE"}}
    for blocks in (False, True):
        status = criteria.release_status(results, blocks)
        assert status["release_status"] == "releasable"
        assert "VAL-002" not in status["passed"] + status["failed"] + status["inconclusive"]
    # nothing applicable: nothing was shown, so nothing is released
    none = criteria.release_status({"VAL-002": {"status": "NOT APPLICABLE"}}, False)
    assert none["release_status"] == "not releasable"
