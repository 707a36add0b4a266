"""Recorded results the trace graph joins in: V&V criterion results, evidence images, MLflow runs.

``vnv.json`` (written by the verify stage) is parsed through its model
(``pipeline.verify.record.VnvRecord``): a missing or misspelt field is a ``UserError`` naming the
file and the field. The graph keeps what it shows: each criterion's status with every model's
result (all cases or per subgroup, with n and the interval), the evidence images, the verified
model files, the models the release does not hold, and the locked splits' looks and identities.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import UserError
from pipeline.core.tracking import ENV_URI, EXPERIMENT
from pipeline.verify import record


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


def load_vnv(path: Path) -> VnvResults:
    """Read ``vnv.json``; an absent file gives ``found=False`` (criteria show as missing).

    Args:
        path: the verify stage's metrics file.
    """
    if not path.is_file():
        return VnvResults(found=False)
    data = record.load_vnv(path)
    criteria = {cid: CriterionResult(cid, rec.status, _value(rec), rec.threshold, _groups(rec))
                for cid, rec in data.criteria.items()}
    evidence = [Evidence(e.path, list(e.requirements), _caption(e), e.sha256) for e in data.evidence]
    models = {name: (m.path, m.sha256) for name, m in data.models.items()}
    looks, identity = {}, {}
    for name, split in (("test", data.test_split), ("external", data.external_split)):
        if split is not None:
            looks[name] = (split.looks, split.max_evaluations)
            identity[name] = {"cases": split.cases, "content_sha256": split.content_sha256}
    return VnvResults(True, criteria, evidence, data.release_status, models, dict(data.absent_models), looks,
                      identity)


def server_uri() -> str | None:
    """``$MLFLOW_TRACKING_URI`` when it names a tracking server (``.services/env``), else None
    (the repository's SQLite store, which the readers open directly)."""
    uri = os.environ.get(ENV_URI, "")
    return uri if uri and not uri.startswith("sqlite:") else None


def load_mlflow_runs(db: Path) -> dict[str, MlflowRun]:
    """The latest finished, active run per ``stage`` tag in the store the stages log to.

    The repository's SQLite store is read with ``sqlite3`` in read-only mode (importing MLflow
    costs seconds); an absent or unreadable file gives no runs: the site then shows run IDs as
    missing. When ``$MLFLOW_TRACKING_URI`` names a tracking server (the team services), the
    stages logged there, so the runs are read from it through MLflow's client; a server that
    does not answer is an error, not an empty list.

    Args:
        db: the ``mlflow.db`` file.
    """
    server = server_uri()
    if server:
        return server_runs(server)
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


def server_runs(uri: str) -> dict[str, MlflowRun]:
    """``load_mlflow_runs`` through MLflow's client: the same selection (finished, active, the
    latest per ``stage`` tag) from any tracking URI.

    Args:
        uri: the tracking URI (a server, or any store MLflow's client opens).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        found, token = [], None
        while experiment is not None:
            page = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'",
                                      order_by=["attributes.start_time ASC"], max_results=1000, page_token=token)
            found += list(page)
            token = page.token
            if not token:
                break
    except (MlflowException, OSError) as exc:
        raise UserError(f"the MLflow tracking server {uri} did not answer: {exc}") from None
    runs = {}
    for run in sorted(found, key=lambda r: (r.info.start_time, r.info.run_id)):
        stage = run.data.tags.get("stage")
        if stage:
            runs[stage] = MlflowRun(stage, run.info.run_id, run.info.status,
                                    {k.removeprefix("dvc.input."): v for k, v in run.data.tags.items()
                                     if k.startswith("dvc.input.")})
    return runs


def _groups(criterion: record.CriterionResult) -> tuple[GroupResult, ...]:
    """Per model: the all-cases result (when the criterion is judged on all cases) and each
    subgroup's, with n and the interval recorded beside it."""
    out = []
    subgroup_by = criterion.subgroup.by if criterion.subgroup else "subgroup"
    for model, m in sorted(criterion.models.items()):
        subgroups = m.subgroups if isinstance(m, record.BySubgroup) else {}
        if not subgroups:
            estimate = getattr(m, "estimate", None)
            out.append(_group(model, "all", m, estimate.n if estimate else None))
        for level, g in subgroups.items():
            out.append(_group(model, f"{subgroup_by} = {level}", g, g.n_cases))
    return tuple(out)


def _group(model: str, group: str, m: record.Judged, n: int | None) -> GroupResult:
    est = getattr(m, "estimate", None)
    return GroupResult(model, group, m.status, m.value, m.reason, n,
                       est.mean if est else None, est.ci_lower if est else None, est.ci_upper if est else None)


def _value(criterion: record.CriterionResult) -> str | None:
    """Each model's reason (the criterion's own value is per model)."""
    return "; ".join(f"{name}: {m.reason or m.status}" for name, m in sorted(criterion.models.items())) or None


def _caption(entry: record.EvidenceImage) -> str:
    if entry.caption:
        return entry.caption
    roles = "/".join(entry.roles)
    return " ".join(part for part in (roles, f"case {entry.case_id}", f"(Dice {entry.dice:.3f})") if part)
