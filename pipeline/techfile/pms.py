"""The post-market surveillance and performance-monitoring plan: data joined with the evidence.

``regulatory/pms.yaml`` says what is monitored, when a signal is raised and who acts; the reference
each input signal is compared with is computed from the recorded data-set fingerprint, and the
reference of each performance signal from the V&V plan's acceptance criteria on its metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_yaml
from pipeline.techfile.data_files import PMS


class Role(StrictModel):
    """Who acts on the plan (a role; named persons are assigned in the QMS)."""

    id: str = Field(pattern=r"^[a-z][a-z-]*$")
    title: str = Field(min_length=1)
    duties: str = Field(min_length=1)


class Reference(StrictModel):
    """Where an input signal's reference comes from in ``metrics/fingerprint.json``.

    ``range``: ``all.<key>_min`` .. ``all.<key>_max`` (element ``axis`` when they are lists);
    ``set``: the list ``all.<key>``; ``site_range``: min .. max over ``per_site.*.<key>`` (dotted).
    """

    kind: Literal["range", "set", "site_range"]
    key: str = Field(min_length=1)
    axis: int | None = Field(default=None, ge=0)


class InputSignal(StrictModel):
    """An input-drift signal: a study characteristic compared with the development data."""

    id: str = Field(pattern=r"^PMS-IN-\d{2}$")
    characteristic: str = Field(min_length=1)
    per_study: str = Field(min_length=1)
    reference: Reference
    share: float = Field(ge=0.0, le=1.0)
    window: str = Field(min_length=1)
    owner: str
    pccp: list[str] = Field(default_factory=list)


class PerformanceSignal(StrictModel):
    """A performance signal: the output compared with what the reviewer accepted."""

    id: str = Field(pattern=r"^PMS-PERF-\d{2}$")
    measure: str = Field(min_length=1)
    criteria_metric: str = ""
    criteria_subgroup: str = Field(default="", description="only criteria evaluated per this subgroup")
    rule: str = Field(min_length=1)
    window: str = Field(min_length=1)
    owner: str
    pccp: list[str] = Field(default_factory=list)


class OtherSource(StrictModel):
    """Other post-market information and who reviews it."""

    source: str = Field(min_length=1)
    owner: str
    pccp: list[str] = Field(default_factory=list)
    open: list[str] = Field(default_factory=list)


class Action(StrictModel):
    """One step of what happens to a raised signal."""

    step: str = Field(min_length=1)
    text: str = Field(min_length=1)
    owner: str


class PmsPlan(StrictModel):
    """The whole plan."""

    roles: list[Role] = Field(min_length=1)
    input_signals: list[InputSignal] = Field(min_length=1)
    performance_signals: list[PerformanceSignal] = Field(default_factory=list)
    other_sources: list[OtherSource] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="after")
    def _owners_are_roles(self):
        roles = {r.id for r in self.roles}
        owners = [x.owner for group in (self.input_signals, self.performance_signals,
                                        self.other_sources, self.actions) for x in group]
        unknown = sorted(set(owners) - roles)
        if unknown:
            raise ValueError(f"owners that are not roles: {', '.join(unknown)}")
        return self


def load_plan(path: Path = PMS) -> PmsPlan:
    """The plan file, validated; a problem is one ``UserError`` naming the file."""
    try:
        return PmsPlan.model_validate(load_yaml(path, "post-market surveillance plan") or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg']}" for e in exc.errors())
        raise UserError(f"{path} is not valid: {problems}") from None


def plan_view(plan: PmsPlan, fingerprint: dict, criteria: list, pccp_ids: list[str],
              open_ids: list[str], source: Path) -> dict:
    """The plan with every reference computed from the recorded run.

    Args:
        plan: from ``load_plan``.
        fingerprint: ``metrics/fingerprint.json``.
        criteria: the V&V plan's acceptance criteria.
        pccp_ids: IDs of the change control plan's modifications.
        open_ids: IDs of the open items.
        source: the fingerprint file, for messages.
    """
    cited = [p for group in (plan.input_signals, plan.performance_signals, plan.other_sources)
             for x in group for p in x.pccp]
    unknown = sorted(set(cited) - set(pccp_ids)) + sorted(
        {o for s in plan.other_sources for o in s.open} - set(open_ids))
    if unknown:
        raise UserError(f"{PMS.name} names unknown change-plan modifications or open items: "
                        + ", ".join(unknown))
    roles = {r.id: r for r in plan.roles}
    inputs = [{"item": s, "owner": roles[s.owner], "reference": reference(fingerprint, s.reference, source)}
              for s in plan.input_signals]
    performance = []
    for s in plan.performance_signals:
        matching = [c for c in criteria if s.criteria_metric and c.metric == s.criteria_metric
                    and (not s.criteria_subgroup or (c.subgroup and c.subgroup.by == s.criteria_subgroup))]
        performance.append({"item": s, "owner": roles[s.owner], "criteria": matching})
    return {"plan": plan, "roles": plan.roles, "inputs": inputs, "performance": performance,
            "others": [{"item": o, "owner": roles[o.owner]} for o in plan.other_sources],
            "actions": [{"item": a, "owner": roles[a.owner]} for a in plan.actions]}


VOLUME_AXES = 3  # a reference axis below this that the data lacks (a slice spacing on 2D images) is not applicable


def reference(fingerprint: dict, ref: Reference, source: Path) -> dict:
    """``{"low", "high"}`` or ``{"values"}`` of one reference, or ``{"not_applicable": reason}`` for
    an axis of a volume that 2D data does not have; a missing key names itself.

    Args:
        fingerprint: ``metrics/fingerprint.json``.
        ref: the reference definition.
        source: the fingerprint file, for messages.
    """
    overall = fingerprint["all"]
    if ref.kind == "set":
        return {"values": [str(v) for v in _get(overall, ref.key, source, "all")]}
    if ref.kind == "range":
        low = _get(overall, f"{ref.key}_min", source, "all")
        high = _get(overall, f"{ref.key}_max", source, "all")
        if isinstance(low, list) and ref.axis is not None and len(low) <= ref.axis < VOLUME_AXES:
            return {"not_applicable": f"not applicable: the data has {len(low)} spatial axes, no axis {ref.axis}"}
        return {"low": _axis(low, ref, source), "high": _axis(high, ref, source)}
    values = [_get(site, ref.key, source, f"per_site.{name}") for name, site in fingerprint["per_site"].items()]
    values = [_axis(v, ref, source) for v in values if v is not None]
    if not values:
        raise UserError(f"missing metric: {source} has no per-site {ref.key}")
    return {"low": min(values), "high": max(values)}


def _get(data: dict, dotted: str, source: Path, where: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"missing metric: {source} has no {where}.{dotted} "
                            f"(needed by the post-market plan, {PMS.name})")
        value = value[part]
    return value


def _axis(value: Any, ref: Reference, source: Path) -> Any:
    if isinstance(value, list):
        if ref.axis is None or ref.axis >= len(value):
            raise UserError(f"{PMS.name}: reference {ref.key} of {source} is a list; give an axis "
                            f"below {len(value)}")
        return value[ref.axis]
    return value
