"""The post-market plan's signals from the use log (pure): per model, site and calendar month.

Per group: uses, the share with intended-use warnings (and runs forced outside it), each input
signal of the plan (``regulatory/pms.yaml``'s ``input_signals`` whose reference the model file
carries: spacing, matrix size, manufacturer) as the share of flagged studies against the plan's
``share``, the reviewers' decisions (the latest per use) and the rejection rate (rejected or
corrected, PMS-PERF-03), and the median output volume. Signals whose reference the model file does
not carry (intensity inside the lesion, lesion volume) are listed as not computed here.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.core.errors import UserError
from pipeline.monitoring.records import ReviewRecord, UseRecord

NO_SITE = "(no site)"


class PlanReference(BaseModel):
    """Where a signal's reference comes from (the plan's ``reference``)."""

    model_config = ConfigDict(extra="ignore")
    kind: str
    key: str
    axis: int | None = None


class PlanSignal(BaseModel):
    """An input signal of the post-market plan (only the keys the summary needs)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    characteristic: str = ""
    reference: PlanReference
    share: float = Field(ge=0.0, le=1.0)


def plan_signals(plan: dict) -> list[PlanSignal]:
    """The ``input_signals`` of a parsed ``regulatory/pms.yaml``."""
    try:
        return [PlanSignal.model_validate(s) for s in (plan or {}).get("input_signals", [])]
    except ValidationError as exc:
        raise UserError(f"post-market plan: input_signals are not valid: {exc}") from None


def summarise(records: list[dict], signals: list[PlanSignal]) -> dict:
    """The signals per (model SHA-256, site, month), and the log's totals.

    Args:
        records: every record of a verified log, in order.
        signals: the plan's input signals (``plan_signals``).
    """
    uses, decisions, orphans = [], {}, 0
    for raw in records:
        if raw.get("kind") == "use":
            uses.append(UseRecord.model_validate(raw))
        elif raw.get("kind") == "review":
            decisions[raw["use_id"]] = ReviewRecord.model_validate(raw).decision  # the latest counts
    known = {u.use_id for u in uses}
    orphans = sum(1 for use_id in decisions if use_id not in known)
    groups: dict[tuple, list[UseRecord]] = defaultdict(list)
    for use in uses:
        groups[(use.model.get("sha256", "?"), use.site or NO_SITE, use.time[:7])].append(use)
    rows = [_group(key, members, decisions, signals) for key, members in sorted(groups.items())]
    computed = {s.id for s in signals if s.reference.key in ("spacing", "shape", "manufacturers")}
    return {"records": len(records), "uses": len(uses), "reviews": sum(r.get("kind") == "review" for r in records),
            "unreviewed_uses": sum(1 for u in uses if u.use_id not in decisions),
            "reviews_of_unknown_uses": orphans, "groups": rows,
            "signals_raised": sorted({s for row in rows for s, v in row["input_signals"].items() if v["raised"]}),
            "not_computed": [f"{s.id} ({s.characteristic or s.reference.key}): the model file carries no reference"
                             for s in signals if s.id not in computed]}


def _group(key: tuple, uses: list[UseRecord], decisions: dict, signals: list[PlanSignal]) -> dict:
    model, site, month = key
    n = len(uses)
    warned = sum(1 for u in uses if u.intended_use.get("warnings", 0) or u.intended_use.get("outside"))
    reviewed = Counter(decisions[u.use_id] for u in uses if u.use_id in decisions)
    judged = sum(reviewed.values())
    volumes = [u.output.get("volume_ml") for u in uses if u.output.get("volume_ml") is not None]
    return {"model_sha256": model, "site": site, "month": month, "uses": n,
            "versions": sorted({str(u.model.get("version")) for u in uses}),
            "intended_use_warnings": warned, "intended_use_warning_share": round(warned / n, 4),
            "outside_intended_use_overrides": sum(1 for u in uses if u.intended_use.get("override")),
            "input_signals": {s.id: _signal(s, uses) for s in signals
                              if s.reference.key in ("spacing", "shape", "manufacturers")},
            "reviewed": judged, "decisions": dict(sorted(reviewed.items())),
            "rejection_rate": round((reviewed["rejected"] + reviewed["corrected"]) / judged, 4) if judged else None,
            "median_volume_ml": round(statistics.median(volumes), 4) if volumes else None}


def _signal(signal: PlanSignal, uses: list[UseRecord]) -> dict:
    values = [_flag(u.drift.get(signal.reference.key), signal.reference.axis) for u in uses]
    judged = [v for v in values if v in ("inside", "outside")]
    flagged = sum(1 for v in judged if v == "outside")
    share = round(flagged / len(judged), 4) if judged else None
    return {"flagged": flagged, "judged": len(judged), "share": share, "limit": signal.share,
            "raised": share is not None and share > signal.share}


def _flag(value, axis: int | None) -> str:
    if isinstance(value, list):
        return value[axis] if axis is not None and axis < len(value) else "no reference"
    return value if isinstance(value, str) else "no reference"
