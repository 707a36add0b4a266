"""Read and validate the design items of a repository into one ``DesignSet``.

Layout (paths relative to the repository root):
``requirements/user_needs.yaml`` and ``requirements/software/*.yaml`` (lists of items),
``risk/plan.yaml`` (the risk plan), ``risk/hazards.yaml`` and ``risk/controls.yaml`` (lists),
``verification/*.yaml`` (each a mapping whose ``criteria`` key lists acceptance criteria;
other keys belong to the V&V plan and are read by the verify stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from pipeline.core.yaml_io import load_yaml
from pipeline.design.items import (
    AcceptanceCriterion, Hazard, RiskControl, SoftwareRequirement, UserNeed,
)
from pipeline.design.risk_plan import RiskPlan
from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel

Item = TypeVar("Item", bound=StrictModel)

USER_NEEDS = Path("requirements/user_needs.yaml")
SOFTWARE_DIR = Path("requirements/software")
RISK_PLAN = Path("risk/plan.yaml")
HAZARDS = Path("risk/hazards.yaml")
CONTROLS = Path("risk/controls.yaml")
VERIFICATION_DIR = Path("verification")


@dataclass(frozen=True)
class DesignSet:
    """All design items of a repository, each kind keyed by ID in file order."""

    plan: RiskPlan
    user_needs: dict[str, UserNeed] = field(default_factory=dict)
    requirements: dict[str, SoftwareRequirement] = field(default_factory=dict)
    risks: dict[str, Hazard] = field(default_factory=dict)
    controls: dict[str, RiskControl] = field(default_factory=dict)
    criteria: dict[str, AcceptanceCriterion] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def items(self) -> dict[str, StrictModel]:
        """Every item of every kind, keyed by ID."""
        return {**self.user_needs, **self.requirements, **self.controls, **self.risks,
                **self.criteria}


def load_design(root: Path) -> DesignSet:
    """Load and validate every design item under ``root``; ``UserError`` lists all problems.

    Args:
        root: the repository root.
    """
    root = Path(root)
    problems: list[str] = []
    sources: dict[str, str] = {}
    plan = _load_plan(root / RISK_PLAN, problems)
    user_needs = _load_items(root, [USER_NEEDS], UserNeed, problems, sources)
    requirements = _load_items(root, _yaml_files(root / SOFTWARE_DIR, root), SoftwareRequirement,
                               problems, sources)
    risks = _load_items(root, [HAZARDS], Hazard, problems, sources)
    controls = _load_items(root, [CONTROLS], RiskControl, problems, sources)
    criteria = _load_items(root, _yaml_files(root / VERIFICATION_DIR, root),
                           AcceptanceCriterion, problems, sources, key="criteria", optional=True)
    if plan is not None:
        problems += _scale_problems(plan, risks, sources)
    if problems or plan is None:
        raise UserError("design items are not valid:\n  " + "\n  ".join(problems))
    return DesignSet(plan, user_needs, requirements, risks, controls, criteria, sources)


def requirement_ids(root: Path) -> set[str]:
    """The software requirement IDs under ``root`` (validated), for the pytest plugin."""
    problems: list[str] = []
    found = _load_items(Path(root), _yaml_files(Path(root) / SOFTWARE_DIR, Path(root)),
                        SoftwareRequirement, problems, {})
    if problems:
        raise UserError("software requirements are not valid:\n  " + "\n  ".join(problems))
    return set(found)


def _load_plan(path: Path, problems: list[str]) -> RiskPlan | None:
    data = _read(path, problems)
    if data is None:
        return None
    try:
        return RiskPlan.model_validate(data)
    except ValidationError as exc:
        problems += [f"{path.name}: {_where(e)}: {e['msg']}" for e in exc.errors(include_url=False)]
        return None


def _load_items(root: Path, files: list[Path], model: type[Item], problems: list[str],
                sources: dict[str, str], key: str | None = None,
                optional: bool = False) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for rel in files:
        data = _read(root / rel, problems, optional=optional)
        if key is not None and isinstance(data, dict):
            data = data.get(key)
        if data is None:
            continue
        if not isinstance(data, list):
            problems.append(f"{rel}: expected a list of {model.__name__} items")
            continue
        for index, raw in enumerate(data):
            label = f"{rel}[{index}]" + (f" {raw.get('id')}" if isinstance(raw, dict) else "")
            try:
                item = model.model_validate(raw)
            except ValidationError as exc:
                problems += [f"{label}: {_where(e)}: {e['msg']}"
                             for e in exc.errors(include_url=False)]
                continue
            if item.id in sources or item.id in found:
                problems.append(f"{label}: duplicate ID {item.id} "
                                f"(already defined in {sources.get(item.id, rel)})")
                continue
            found[item.id] = item
            sources[item.id] = str(rel)
    return found


def _scale_problems(plan: RiskPlan, risks: dict[str, Hazard], sources: dict[str, str]) -> list[str]:
    out = []
    n_sev, n_prob = len(plan.severity), len(plan.probability)
    for risk in risks.values():
        for name in ("severity", "residual_severity", "probability", "residual_probability"):
            top = n_sev if "severity" in name else n_prob
            if getattr(risk, name) > top:
                out.append(f"{sources[risk.id]} {risk.id}: {name} = {getattr(risk, name)} "
                           f"is outside the plan's scale 1..{top}")
    return out


def _yaml_files(folder: Path, root: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(root) for p in folder.glob("*.yaml"))


def _read(path: Path, problems: list[str], optional: bool = False) -> Any:
    if not path.is_file():
        if not optional:
            problems.append(f"{path} not found")
        return None
    try:
        return load_yaml(path, "design file")
    except UserError as exc:
        problems.append(str(exc))
        return None


def _where(err: dict) -> str:
    return ".".join(str(p) for p in err["loc"]) or "<item>"
