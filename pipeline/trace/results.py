"""Recorded results the trace graph joins in: V&V criterion results, evidence images, MLflow runs.

``vnv.json`` (written by the verify stage) is read with this contract:
``criteria``: a mapping from ID to ``{"status": "PASS|FAIL|INCONCLUSIVE", "threshold": ...,
"value": ...}`` or ``{..., "models": {name: {"reason": ...}}}`` (or a list of records with
``id``); optional ``evidence``: a list of ``{"file": "<name in the evidence folder>"`` (or
``"path"`` relative to the repository root)``, "sha256": ..., "requirements": [...],
"caption": ...}``; optional ``models``: ``{name: {"path": ..., "sha256": ...}}`` (the files that
were verified); optional ``absent_models``: ``{name: reason}`` for models the release does not
hold (no compressed model met its targets); optional ``test_split`` and ``external_split``:
``{"evaluations": n, "max_evaluations": m, ...}`` (how often each locked split has been evaluated,
and the plan's limit);
optional ``release_status``: ``"releasable"`` or
``"not releasable"``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import UserError

STATUSES = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass(frozen=True)
class GroupResult:
    """One model's result of a criterion on all cases or on one subgroup: the statistic compared,
    the number of cases and the 95 % bootstrap interval it was computed with."""

    model: str
    group: str  # "all", or "<by> = <level>" for a subgroup
    status: str
    value: Any = None
    reason: str = ""
    n: int | None = None
    mean: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None


@dataclass(frozen=True)
class CriterionResult:
    """The recorded outcome of one acceptance criterion (``groups``: per model, all cases and
    each subgroup, with n and the interval where ``vnv.json`` records them)."""

    id: str
    status: str
    value: Any = None
    threshold: Any = None
    groups: tuple[GroupResult, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """An evidence file (e.g. a Grad-CAM overlay) linked to requirement IDs."""

    path: str
    requirements: list[str]
    caption: str = ""
    sha256: str | None = None


@dataclass(frozen=True)
class VnvResults:
    """Everything read from ``vnv.json``; ``found`` is False when the file does not exist."""

    found: bool
    criteria: dict[str, CriterionResult] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    release_status: str | None = None
    models: dict[str, tuple[str, str]] = field(default_factory=dict)
    absent_models: dict[str, str] = field(default_factory=dict)
    # locked split (test, external) -> (looks so far, this one included; the plan's limit)
    split_evaluations: dict[str, tuple[int, int]] = field(default_factory=dict)
    # locked split -> {"cases", "content_sha256"} as recorded (the data a criterion was judged on)
    split_identity: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowRun:
    """The latest finished MLflow run of a stage."""

    stage: str
    run_id: str
    status: str
    inputs: dict[str, str] = field(default_factory=dict)


def load_vnv(path: Path, evidence_dir: str = "reports/vnv") -> VnvResults:
    """Read ``vnv.json``; an absent file gives ``found=False`` (criteria show as missing).

    Args:
        path: the verify stage's metrics file.
        evidence_dir: where evidence entries given by ``file`` name live (root-relative).
    """
    if not path.is_file():
        return VnvResults(found=False)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    raw = data.get("criteria") or []
    records = [dict(v, id=k) for k, v in raw.items()] if isinstance(raw, dict) else raw
    criteria = {}
    for rec in records:
        status = str(rec.get("status", "")).upper()
        if status not in STATUSES:
            raise UserError(f"{path}: criterion {rec.get('id')} has status {status!r}; "
                            f"allowed: {', '.join(STATUSES)}")
        criteria[str(rec["id"])] = CriterionResult(str(rec["id"]), status, _value(rec),
                                                   rec.get("threshold"), _groups(rec))
    evidence = [Evidence(str(e.get("path") or f"{evidence_dir}/{e['file']}"),
                         [str(i) for i in e.get("requirements", [])], _caption(e),
                         e.get("sha256")) for e in data.get("evidence") or []]
    models = {str(name): (str(m["path"]), str(m["sha256"]))
              for name, m in (data.get("models") or {}).items()
              if isinstance(m, dict) and "path" in m and "sha256" in m}
    release = data.get("release_status")
    absent = {str(k): str(v) for k, v in (data.get("absent_models") or {}).items()}
    looks, identity = {}, {}
    for name in ("test", "external"):
        split = data.get(f"{name}_split") or {}
        if split.get("evaluations") is not None and split.get("max_evaluations") is not None:
            looks[name] = (int(split.get("looks", split["evaluations"])), int(split["max_evaluations"]))
        if split:
            identity[name] = {"cases": split.get("cases"), "content_sha256": split.get("content_sha256")}
    return VnvResults(True, criteria, evidence, str(release) if release else None, models, absent, looks,
                      identity)


def load_mlflow_runs(db: Path) -> dict[str, MlflowRun]:
    """The latest finished, active run per ``stage`` tag in an MLflow SQLite store.

    Read with ``sqlite3`` in read-only mode (importing MLflow costs seconds). An absent or
    unreadable store gives no runs: the site then shows run IDs as missing.

    Args:
        db: the ``mlflow.db`` file.
    """
    if not db.is_file():
        return {}
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as con:
            rows = con.execute(
                "SELECT r.run_uuid, r.status, t.value FROM runs r JOIN tags t "
                "ON t.run_uuid = r.run_uuid AND t.key = 'stage' "
                "WHERE r.lifecycle_stage = 'active' AND r.status = 'FINISHED' "
                "ORDER BY r.start_time, r.run_uuid").fetchall()
            runs = {stage: MlflowRun(stage, run_id, status) for run_id, status, stage in rows}
            for run in list(runs.values()):
                tags = con.execute("SELECT key, value FROM tags WHERE run_uuid = ? AND key "
                                   "LIKE 'dvc.input.%'", (run.run_id,)).fetchall()
                runs[run.stage] = MlflowRun(run.stage, run.run_id, run.status,
                                            {k.removeprefix("dvc.input."): v for k, v in tags})
    except sqlite3.Error:
        return {}
    return runs


def _groups(record: dict) -> tuple[GroupResult, ...]:
    """Per model: the all-cases result (when the criterion is judged on all cases) and each
    subgroup's, with n and the interval recorded beside it."""
    out = []
    subgroup_by = (record.get("subgroup") or {}).get("by", "subgroup")
    for model, m in sorted((record.get("models") or {}).items()):
        if not isinstance(m, dict):
            continue
        subgroups = m.get("subgroups") or {}
        if not subgroups:
            out.append(_group(model, "all", m, (m.get("estimate") or {}).get("n")))
        for level, g in subgroups.items():
            if isinstance(g, dict):
                out.append(_group(model, f"{subgroup_by} = {level}", g, g.get("n_cases")))
    return tuple(out)


def _group(model: str, group: str, m: dict, n: Any) -> GroupResult:
    est = m.get("estimate") or {}
    return GroupResult(model, group, str(m.get("status", "")).upper(), m.get("value"),
                       str(m.get("reason") or ""), int(n) if isinstance(n, (int, float)) else None,
                       _number(est.get("mean")), _number(est.get("ci_lower")), _number(est.get("ci_upper")))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _value(record: dict) -> Any:
    if "value" in record:
        return record["value"]
    models = record.get("models") or {}
    parts = [f"{name}: {m.get('reason') or m.get('status')}" for name, m in sorted(models.items())
             if isinstance(m, dict)]
    return "; ".join(parts) or None


def _caption(entry: dict) -> str:
    if entry.get("caption"):
        return str(entry["caption"])
    roles = "/".join(entry.get("roles") or [])
    dice = entry.get("dice")
    return " ".join(part for part in (roles, f"case {entry.get('case_id', '?')}",
                                      f"(Dice {dice:.3f})" if isinstance(dice, float) else "")
                    if part)
