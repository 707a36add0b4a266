"""The SOUP list (IEC 62304 5.3.3, 8.1.2): ``requirements.lock`` joined with package metadata.

Names and versions come from the lock file; licences from the installed distribution's
metadata (``importlib.metadata``); purposes and requirements of directly used items from
``regulatory/soup.yaml``; the direct items that pull in a transitive one from the ``Requires-Dist``
of the installed distributions.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path
from typing import Literal

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import Field, ValidationError

from pipeline.core.errors import UserError
from pipeline.governance.soup_review import read_pins
from pipeline.core.params_base import StrictModel
from pipeline.techfile.data_files import SOUP_DATA


class SoupPurpose(StrictModel):
    """What a directly used SOUP item is for and what the product requires of it."""

    name: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    requirements: str = Field(min_length=1)
    srs: list[str] = Field(min_length=1)
    anomaly_list: str = Field(min_length=1)
    anomaly_review: Literal["open", "done"] = "open"
    anomaly_notes: str = ""


def read_lock(path: Path) -> dict[str, str]:
    """``name -> version`` of every pinned package in a pip lock file.

    Args:
        path: ``requirements.lock``.
    """
    pins = read_pins(path)
    if not pins:
        raise UserError(f"{path} pins no package (expected lines name==version)")
    return pins


def direct_dependencies(pyproject: Path) -> dict[str, str]:
    """``name -> scope`` (``runtime`` or the optional group) of the project's direct deps."""
    if not Path(pyproject).is_file():
        raise UserError(f"missing input: {pyproject} not found")
    project = tomllib.loads(Path(pyproject).read_text()).get("project", {})
    out = {canonicalize_name(Requirement(r).name): "runtime" for r in project.get("dependencies", [])}
    for group, reqs in sorted(project.get("optional-dependencies", {}).items()):
        for req in reqs:
            out.setdefault(canonicalize_name(Requirement(req).name), group)
    return out


def load_purposes(path: Path = SOUP_DATA) -> dict[str, SoupPurpose]:
    """The purposes file, keyed by canonical package name."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or []
        items = [SoupPurpose.model_validate(entry) for entry in raw]
    except (yaml.YAMLError, ValidationError) as exc:
        raise UserError(f"{path} is not valid: {exc}") from None
    return {canonicalize_name(item.name): item for item in items}


def soup_list(lock: Path, pyproject: Path, purposes: dict[str, SoupPurpose]) -> list[dict]:
    """One row per locked package: name, version, licence, scope, purpose, requirements, review.

    Args:
        lock: ``requirements.lock``.
        pyproject: ``pyproject.toml`` (which packages are direct dependencies).
        purposes: from ``load_purposes``; every direct dependency must have one.
    """
    pins = read_lock(lock)
    direct = direct_dependencies(pyproject)
    missing = sorted(set(direct) - set(purposes))
    if missing:
        raise UserError(f"{SOUP_DATA.name} has no purpose for direct dependencies: "
                        + ", ".join(missing))
    pulled_by = _pulled_by(pins, direct)
    rows = []
    for name, version in sorted(pins.items(), key=lambda kv: canonicalize_name(kv[0])):
        key = canonicalize_name(name)
        dist = _installed(name, version, lock)
        entry = purposes.get(key)
        row = {"name": name, "version": version, "licence": licence(dist),
               "scope": direct.get(key, "transitive"), "direct": key in direct,
               "requires": sorted(pulled_by.get(key, set())),
               "depends_on": sorted(_requires(dist) & {canonicalize_name(p) for p in pins}),
               "summary": dist.metadata.get("Summary") or ""}
        if entry is not None:
            row.update(purpose=entry.purpose, requirements=entry.requirements, srs=entry.srs,
                       anomaly_list=entry.anomaly_list, anomaly_review=entry.anomaly_review,
                       anomaly_notes=entry.anomaly_notes)
        else:
            row.update(purpose="dependency of " + ", ".join(row["requires"]) if row["requires"]
                       else "locked, not required by a direct dependency",
                       requirements="those of the items that require it", srs=[],
                       anomaly_list="", anomaly_review="covered by the requiring item",
                       anomaly_notes="")
        rows.append(row)
    return rows


def licence(dist: md.Distribution) -> str:
    """The licence a distribution declares: SPDX expression, classifier or License field."""
    meta = dist.metadata
    if meta.get("License-Expression"):
        return str(meta["License-Expression"])
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    if classifiers:
        return "; ".join(sorted(set(classifiers)))
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    return "not declared in package metadata"


def _installed(name: str, version: str, lock: Path) -> md.Distribution:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        raise UserError(f"{name}=={version} is pinned in {lock} but not installed: run make setup") from None
    if dist.version.split("+", 1)[0] != version.split("+", 1)[0]:
        raise UserError(f"{name} {dist.version} is installed but {lock} pins {version}: "
                        "run make setup")
    return dist


def _requires(dist: md.Distribution | None) -> set[str]:
    out: set[str] = set()
    for raw in (dist.requires if dist is not None else None) or []:
        req = Requirement(raw)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.add(canonicalize_name(req.name))
    return out


def _pulled_by(pins: dict[str, str], direct: dict[str, str]) -> dict[str, set[str]]:
    graph = {canonicalize_name(n): _requires(_safe_dist(n)) for n in pins}
    found: dict[str, set[str]] = {}
    for root in direct:
        stack, seen = list(graph.get(root, ())), set()
        while stack:
            node = stack.pop()
            if node in seen or node not in graph:
                continue
            seen.add(node)
            found.setdefault(node, set()).add(root)
            stack += graph[node]
    return found


def _safe_dist(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def apply_reviews(rows: list[dict], states: dict[str, dict]) -> list[dict]:
    """Rows with the signed known-anomaly reviews (``governance/soup_reviews``) applied: ``done``
    for the reviewed version, ``open`` again when the locked version changed since the review.

    Args:
        rows: from ``soup_list``.
        states: from ``pipeline.governance.soup_review.review_states``.
    """
    out = []
    for row in rows:
        state = states.get(canonicalize_name(row["name"]))
        if state is not None:
            row = {**row, "anomaly_review": state["state"], "anomaly_notes": state["note"]}
        out.append(row)
    return out


def audit_view(root: Path) -> dict | None:
    """The recorded SOUP vulnerability audit (``soup audit``) with each finding's evaluation, for
    the SOUP section; ``None`` when no audit is recorded.

    Args:
        root: the repository root (``governance/soup_audit.json``, ``governance/soup_vulnerabilities.yaml``).
    """
    from pipeline.governance import soup_evaluations

    audit = soup_evaluations.load_audit(Path(root))
    if audit is None:
        return None
    recorded = soup_evaluations.load(Path(root))
    findings = []
    for finding in audit.findings:
        evaluation = soup_evaluations.evaluation_of(finding, recorded.evaluations)
        findings.append({**finding.model_dump(), "evaluation": evaluation.model_dump() if evaluation else None})
    return {"date": audit.date, "time": audit.time, "source": audit.source, "lock_file": audit.lock_file,
            "lock_sha256": audit.lock_sha256, "packages": len(audit.packages),
            "checked": sum(1 for p in audit.packages if p.status == "checked"),
            "not_covered": [p.model_dump() for p in audit.packages if p.status == "not covered"],
            "outside": [item.model_dump() for item in recorded.not_covered], "findings": findings}
