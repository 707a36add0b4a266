"""Design items as validated data: the committed items, and bad items named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.design.load import load_design
from pipeline.core.errors import UserError
from tests.trace.minirepo import MiniRepo

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.verifies("SRS-TRACE-001")
def test_the_committed_design_items_are_valid_and_complete() -> None:
    design = load_design(ROOT)
    assert len(design.user_needs) >= 5 and len(design.requirements) >= 40
    ids = list(design.risks)
    assert ids[:12] == [f"RISK-{i:03d}" for i in range(1, 13)] and ids == [f"RISK-{i:03d}" for i in range(1, len(ids) + 1)]
    areas = {req.split("-")[1] for req in design.requirements}
    assert {"PLAT", "DATA", "DEID", "TRAIN", "COMP", "EXPORT", "VNV", "TRACE", "DOC", "PRED", "GOV"} <= areas
    for risk in design.risks.values():
        assert risk.controls, risk.id
        assert design.plan.region(risk.residual_severity, risk.residual_probability) != \
            "unacceptable", risk.id


@pytest.mark.verifies("SRS-TRACE-001")
def test_acceptability_is_computed_from_the_matrix() -> None:
    plan = load_design(ROOT).plan
    assert plan.region(1, 1) == "acceptable"
    assert plan.region(5, 5) == "unacceptable"
    with pytest.raises(ValueError, match="severity 6 is outside 1..5"):
        plan.region(6, 1)


@pytest.mark.verifies("SRS-TRACE-001")
def test_acceptability_cannot_be_typed_into_a_hazard(tmp_path) -> None:
    repo = MiniRepo(tmp_path)
    repo.risks[0]["acceptability"] = "acceptable"
    repo.write()
    with pytest.raises(UserError, match=r"risk/hazards.yaml\[0\] RISK-001: acceptability: "
                                        "Extra inputs are not permitted"):
        load_design(tmp_path)


@pytest.mark.verifies("SRS-TRACE-001")
def test_duplicate_ids_are_named_with_both_files(tmp_path) -> None:
    repo = MiniRepo(tmp_path)
    repo.write()
    extra = tmp_path / "requirements/software/other.yaml"
    extra.write_text(yaml.safe_dump(repo.reqs))
    with pytest.raises(UserError, match=r"duplicate ID SRS-TST-001 \(already defined in "
                                        r"requirements/software/other.yaml\)"):
        load_design(tmp_path)


@pytest.mark.verifies("SRS-TRACE-001")
def test_bad_fields_are_all_listed_with_file_item_and_field(tmp_path) -> None:
    repo = MiniRepo(tmp_path)
    repo.reqs[0]["kind"] = "wishful"
    repo.reqs[0]["derives_from"] = []
    repo.controls[0]["id"] = "CONTROL-1"
    repo.write()
    with pytest.raises(UserError) as err:
        load_design(tmp_path)
    message = str(err.value)
    assert "requirements/software/tst.yaml[0] SRS-TST-001: kind:" in message
    assert "requirements/software/tst.yaml[0] SRS-TST-001: derives_from:" in message
    assert "risk/controls.yaml[0] CONTROL-1: id:" in message


@pytest.mark.verifies("SRS-TRACE-001")
def test_hazards_name_the_plan_levels_and_hold_their_ordinal(tmp_path) -> None:
    MiniRepo(tmp_path).write()  # severity critical, probability probable -> improbable
    risk = load_design(tmp_path).risks["RISK-001"]
    levels = (risk.severity, risk.probability, risk.residual_severity, risk.residual_probability)
    assert levels == (4, 4, 4, 1)


@pytest.mark.verifies("SRS-TRACE-001")
@pytest.mark.parametrize("field, value", [("residual_probability", "rare"),
                                          ("severity", "Critical"), ("residual_severity", 4),
                                          ("probability", None)])
def test_a_level_not_named_in_the_plan_is_one_line_naming_hazard_field_and_names(
        tmp_path, field, value) -> None:
    repo = MiniRepo(tmp_path)
    repo.risks[0][field] = value
    repo.write()
    with pytest.raises(UserError) as err:
        load_design(tmp_path)
    lines = str(err.value).splitlines()[1:]
    scale = "severity" if field.endswith("severity") else "probability"
    names = ("negligible, minor, serious, critical, catastrophic" if scale == "severity"
             else "improbable, remote, occasional, probable, frequent")
    assert [line.strip() for line in lines] == [
        f"risk/hazards.yaml[0] RISK-001: {field}: {value!r} is not a {scale} of the risk plan "
        f"(risk/plan.yaml); write one of its names: {names}"]


@pytest.mark.verifies("SRS-TRACE-001")
def test_hazards_are_not_read_without_a_valid_plan(tmp_path) -> None:
    repo = MiniRepo(tmp_path).write()
    (repo.root / "risk/plan.yaml").write_text("scope: no scales\n")
    with pytest.raises(UserError, match=r"risk/hazards.yaml: not read: its severities and "
                                        r"probabilities are names of risk/plan.yaml"):
        load_design(repo.root)


@pytest.mark.verifies("SRS-TRACE-001")
def test_a_plan_naming_two_levels_alike_is_rejected(tmp_path) -> None:
    repo = MiniRepo(tmp_path).write()
    plan = yaml.safe_load((tmp_path / "risk/plan.yaml").read_text())
    plan["probability"][1]["name"] = "improbable"
    (tmp_path / "risk/plan.yaml").write_text(yaml.safe_dump(plan))
    with pytest.raises(UserError, match="probability names must differ"):
        load_design(repo.root)


@pytest.mark.verifies("SRS-TRACE-001")
@pytest.mark.parametrize("items, index, old", [("reqs", 0, "safety"),
                                               ("controls", 0, "inherent_safety")])
def test_the_old_type_key_is_refused_not_read_as_the_kind(tmp_path, items, index, old) -> None:
    repo = MiniRepo(tmp_path)
    item = getattr(repo, items)[index]
    del item["kind"]
    item["type"] = old
    repo.write()
    with pytest.raises(UserError) as err:
        load_design(tmp_path)
    message = str(err.value)
    assert f"{item['id']}: type: Extra inputs are not permitted" in message
    assert f"{item['id']}: kind: Field required" in message


@pytest.mark.verifies("SRS-TRACE-001")
def test_a_matrix_of_the_wrong_shape_is_rejected(tmp_path) -> None:
    repo = MiniRepo(tmp_path).write()
    plan = yaml.safe_load((tmp_path / "risk/plan.yaml").read_text())
    plan["matrix"] = plan["matrix"][:-1]
    (tmp_path / "risk/plan.yaml").write_text(yaml.safe_dump(plan))
    with pytest.raises(UserError, match="matrix must have 5 rows"):
        load_design(repo.root)


@pytest.mark.verifies("SRS-TRACE-001")
def test_a_hazard_is_not_validated_without_its_plan() -> None:
    from pydantic import ValidationError

    from pipeline.design.items import Hazard
    from tests.trace.minirepo import RISK
    with pytest.raises(ValidationError, match="validate the hazard with the plan as context"):
        Hazard.model_validate(RISK)


@pytest.mark.verifies("SRS-TRACE-001", "SRS-VNV-002")
def test_the_criteria_are_those_of_the_plan_verify_judges_by(tmp_path) -> None:
    """A data profile may name a V&V plan of its own (``verify.plan``): the design's criteria are
    that plan's, not every plan file's; a plan that is named but absent is named in the error."""
    repo = MiniRepo(tmp_path)
    repo.write()
    assert list(load_design(tmp_path).criteria) == [c["id"] for c in repo.criteria]  # no params.yaml: the folder
    own = [{**repo.criteria[0], "id": "VAL-101", "title": "Mean Dice of my data"}]
    (tmp_path / "verification/plans").mkdir()
    (tmp_path / "verification/plans/mine.yaml").write_text(yaml.safe_dump({"criteria": own}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"verify": {"plan": "verification/plans/mine.yaml"}}))
    design = load_design(tmp_path)
    assert list(design.criteria) == ["VAL-101"] and design.sources["VAL-101"] == "verification/plans/mine.yaml"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"verify": {"plan": "verification/plans/gone.yaml"}}))
    with pytest.raises(UserError, match=r"verification/plans/gone.yaml \(verify.plan in params.yaml\) not found"):
        load_design(tmp_path)


@pytest.mark.verifies("SRS-TRACE-001")
def test_another_plans_criteria_are_known_but_not_this_runs_design(tmp_path) -> None:
    """The default plan's criteria stay items of the repository while a profile's plan is active:
    their review records are neither flagged as dangling nor dropped by ``trace review``."""
    repo = MiniRepo(tmp_path)
    repo.write()
    (tmp_path / "verification/plans").mkdir()
    (tmp_path / "verification/plans/mine.yaml").write_text(yaml.safe_dump({"criteria": []}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"verify": {"plan": "verification/plans/mine.yaml"}}))
    design = load_design(tmp_path)
    assert design.criteria == {} and design.other_plans == {c["id"] for c in repo.criteria}
