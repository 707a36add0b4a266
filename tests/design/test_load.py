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
    repo.reqs[0]["type"] = "wishful"
    repo.reqs[0]["derives_from"] = []
    repo.controls[0]["id"] = "CONTROL-1"
    repo.write()
    with pytest.raises(UserError) as err:
        load_design(tmp_path)
    message = str(err.value)
    assert "requirements/software/tst.yaml[0] SRS-TST-001: type:" in message
    assert "requirements/software/tst.yaml[0] SRS-TST-001: derives_from:" in message
    assert "risk/controls.yaml[0] CONTROL-1: id:" in message


@pytest.mark.verifies("SRS-TRACE-001")
def test_levels_outside_the_plan_scale_are_rejected(tmp_path) -> None:
    repo = MiniRepo(tmp_path)
    repo.risks[0]["residual_probability"] = 9
    repo.write()
    with pytest.raises(UserError, match="RISK-001: residual_probability = 9 is outside the "
                                        r"plan's scale 1..5"):
        load_design(tmp_path)


@pytest.mark.verifies("SRS-TRACE-001")
def test_a_matrix_of_the_wrong_shape_is_rejected(tmp_path) -> None:
    repo = MiniRepo(tmp_path).write()
    plan = yaml.safe_load((tmp_path / "risk/plan.yaml").read_text())
    plan["matrix"] = plan["matrix"][:-1]
    (tmp_path / "risk/plan.yaml").write_text(yaml.safe_dump(plan))
    with pytest.raises(UserError, match="matrix must have 5 rows"):
        load_design(repo.root)
