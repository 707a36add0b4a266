"""Classify each change against the PCCP by the rules in ``governance/change_rules.yaml``."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_yaml

AREAS = ("requirement", "user_need", "risk", "control", "criterion", "result", "output", "soup", "params")
Classification = Literal["within PCCP", "new submission", "documentation only"]
DEFAULT = "new submission"


class When(StrictModel):
    """Conditions a rule needs besides its area, action and ID pattern (all must hold)."""

    only_fields: list[str] | None = None
    same_major: bool | None = None
    criteria_pass: bool | None = None
    now_fails: bool | None = None


class Rule(StrictModel):
    """One classification rule."""

    area: list[str]
    action: Literal["added", "removed", "changed", "any"] = "any"
    match: list[str] = Field(default_factory=lambda: ["*"])
    when: When = Field(default_factory=When)
    classification: Classification
    modification: str | None = Field(None, pattern=r"^MOD-\d+$")
    why: str = Field(min_length=3)

    @field_validator("area", "match", mode="before")
    @classmethod
    def _listify(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("area")
    @classmethod
    def _areas(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in AREAS]
        if bad:
            raise ValueError(f"unknown area(s) {bad}; allowed: {', '.join(AREAS)}")
        return value


class Rules(StrictModel):
    """The rules file."""

    rules: list[Rule]


def load_rules(path: Path) -> list[Rule]:
    """The classification rules, validated; ``UserError`` naming the file and the problem."""
    data = load_yaml(Path(path), "change rules")
    try:
        return Rules.model_validate(data or {}).rules
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise UserError(f"{path} is not valid:\n  " + "\n  ".join(lines)) from None


def classify(change: dict, rules: list[Rule], criteria_pass: bool) -> dict:
    """``classification``, ``modification`` and ``why`` of one change (first matching rule).

    Args:
        change: from ``diff`` (``area``, ``action``, ``id``, ``fields``, ``now`` ...).
        rules: from ``load_rules``.
        criteria_pass: every acceptance criterion of the current release passes.
    """
    for index, rule in enumerate(rules):
        if _matches(rule, change, criteria_pass):
            return {"classification": rule.classification, "modification": rule.modification,
                    "why": rule.why, "rule": index + 1}
    return {"classification": DEFAULT, "modification": None, "rule": None,
            "why": "No rule of the change rules covers it: treated as needing a new submission."}


def _matches(rule: Rule, change: dict, criteria_pass: bool) -> bool:
    if change["area"] not in rule.area or rule.action not in ("any", change["action"]):
        return False
    if not any(fnmatch.fnmatchcase(change["id"], pattern) for pattern in rule.match):
        return False
    when = rule.when
    if when.only_fields is not None:
        fields = {f["field"] for f in change.get("fields") or []}
        if change["action"] != "changed" or not fields or not fields <= set(when.only_fields):
            return False
    if when.same_major is not None and _same_major(change) != when.same_major:
        return False
    if when.criteria_pass is not None and criteria_pass != when.criteria_pass:
        return False
    if when.now_fails is not None and (change.get("now_status") == "FAIL") != when.now_fails:
        return False
    return True


def _same_major(change: dict) -> bool:
    before, after = str(change.get("before") or ""), str(change.get("after") or "")
    return bool(before and after) and before.split(".")[0] == after.split(".")[0]
