"""The V&V plan is validated data: the committed plan is valid, bad plans are named errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.verify import subgroups
from pipeline.verify.plan import load_plan, validate_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "verification" / "criteria.yaml"

pytestmark = pytest.mark.verifies("SRS-VNV-001")


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(PLAN.read_text())


def test_the_committed_plan_is_valid_and_covers_both_models_and_all_subgroups():
    plan = load_plan(PLAN)
    models = {m for c in plan.criteria for m in c.models}
    assert models == {"teacher", "compressed"}
    assert {c.subgroup.by for c in plan.criteria if c.subgroup} == set(subgroups.BY)
    assert {c.statistic for c in plan.criteria} >= {"point", "ci95_lower"}
    assert all(c.rationale for c in plan.criteria)


def test_the_plan_names_only_known_requirements():
    from pipeline.design.load import requirement_ids

    known = requirement_ids(ROOT)
    assert {r for c in load_plan(PLAN).criteria for r in c.requirements} <= known


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["criteria"][0].update(metric="accuracy"), "not one of"),
    (lambda d: d["criteria"][0].update(statistic="median"), "statistic"),
    (lambda d: d["criteria"][1].update(id=d["criteria"][0]["id"]), "duplicate"),
    (lambda d: d["criteria"][0].update(models=["student"]), "models"),
    (lambda d: d.update(age_bands_years=[60, 40]), "increasing"),
    (lambda d: d["criteria"][0].update(subgroup={"by": "site", "min_size": 0}), "min_size"),
    (lambda d: d["criteria"][0].update(metric="attribution_mass_in_region"), "teacher only"),
])
def test_bad_plans_are_rejected_with_the_place_named(raw, mutate, message):
    raw["criteria"][0]["models"] = ["teacher", "compressed"]
    mutate(raw)
    with pytest.raises(UserError, match=message):
        validate_plan(raw)


def test_missing_plan_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_plan(tmp_path / "none.yaml")


@pytest.mark.verifies("SRS-VNV-003")
def test_age_bands_and_unknown_levels():
    assert subgroups.age_band(44, [18, 45, 65]) == "18-44"
    assert subgroups.age_band(45, [18, 45, 65]) == "45-64"
    assert subgroups.age_band(None, [18, 45]) == "unknown"
    assert subgroups.age_band(90, [18, 45, 65]) == "unknown"
    cases = [{"site": "a"}, {"site": ""}, {"site": "b"}, {"site": "a"}]
    assert subgroups.group(cases, "site", [0, 1]) == {"a": [0, 3], "b": [2], "unknown": [1]}
    with pytest.raises(ValueError, match="unknown subgroup"):
        subgroups.level_of({}, "race", [0, 1])
