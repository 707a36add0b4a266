"""Read and validate the design items of a repository into one ``DesignSet``.

Layout (paths relative to the repository root):
``requirements/user_needs.yaml`` and ``requirements/software/*.yaml`` (lists of items),
``risk/plan.yaml`` (the risk plan), ``risk/hazards.yaml`` (a list; severities and probabilities
are the plan's names, so hazards are read with the plan) and ``risk/controls.yaml`` (a list),
the V&V plan the verify stage judges by (``params.yaml``'s ``verify.plan``, by default
``verification/criteria.yaml``; a data profile may name a plan of its own): a mapping whose
``criteria`` key lists acceptance criteria, its other keys read by the verify stage. Without a
``params.yaml`` naming one, every ``verification/*.yaml`` is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from pipeline.core.yaml_io import load_yaml
from pipeline.design.items import (
    PLAN, AcceptanceCriterion, Hazard, RiskControl, SoftwareRequirement, UserNeed,
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
PARAMS = Path("params.yaml")


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
    # criteria of the repository's other V&V plans (another data profile's): items that exist,
    # whose review records are kept, but not the design of this run
    other_plans: frozenset[str] = frozenset()

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
    if plan is not None:
        risks = _load_items(root, [HAZARDS], Hazard, problems, sources, context={PLAN: plan})
    else:
        risks = {}
        problems.append(f"{HAZARDS}: not read: its severities and probabilities are names of "
                        f"{RISK_PLAN}, which is not valid")
    controls = _load_items(root, [CONTROLS], RiskControl, problems, sources)
    active = active_plan(root)
    if active is not None and not (root / active).is_file():
        problems.append(f"{active} (verify.plan in {PARAMS}) not found")
    criteria = _load_items(root, [active] if active is not None else _yaml_files(root / VERIFICATION_DIR, root),
                           AcceptanceCriterion, problems, sources, key="criteria", optional=True)
    if problems or plan is None:
        raise UserError("design items are not valid:\n  " + "\n  ".join(problems))
    others = frozenset() if active is None else _plan_ids(root, active) - set(criteria)
    return DesignSet(plan, user_needs, requirements, risks, controls, criteria, sources, others)


def active_plan(root: Path) -> Path | None:
    """The V&V plan ``params.yaml`` names (``verify.plan``, relative to ``root``); None when there
    is no ``params.yaml`` or it names none (then the criteria are every ``verification/*.yaml``'s)."""
    path = Path(root) / PARAMS
    params = load_yaml(path, "params file") if path.is_file() else None
    verify = params.get("verify") if isinstance(params, dict) else None
    plan = verify.get("plan") if isinstance(verify, dict) else None
    return Path(plan) if isinstance(plan, str) and plan else None


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
                sources: dict[str, str], key: str | None = None, optional: bool = False,
                context: dict[str, Any] | None = None) -> dict[str, Item]:
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
                item = model.model_validate(raw, context=context)
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


def _plan_ids(root: Path, active: Path) -> set[str]:
    """The criterion IDs of every V&V plan under ``verification/`` other than the active one."""
    ids: set[str] = set()
    for path in sorted((root / VERIFICATION_DIR).rglob("*.yaml")):
        if path.relative_to(root) == active:
            continue
        data = _read(path, [], optional=True)
        entries = data.get("criteria") if isinstance(data, dict) else None
        ids |= {str(e["id"]) for e in entries or [] if isinstance(e, dict) and "id" in e}
    return ids


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
