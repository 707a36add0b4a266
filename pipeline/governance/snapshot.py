"""What a release is made of, read from git at a revision or from the working tree.

Design items (raw YAML, keyed by ID), the acceptance-criteria results (``metrics/vnv.json``: in
the working tree, or at a revision from the DVC cache by the md5 its ``dvc.lock`` records), the
output hashes of the evidence stages (``dvc.lock``), the SOUP versions (``requirements.lock``) and
``params.yaml``. A file a revision does not have is empty, never an error: early releases lack
what later ones added. ``vnv.json`` is parsed through the verify stage's record model; one that
another pipeline version wrote and this one cannot parse is noted, not compared.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import UserError
from pipeline.core.provenance import DOCUMENT_STAGES
from pipeline.params import repo_paths
from pipeline.verify.record import VnvRecord, load_vnv

# area -> (files or folders, key holding the list inside a mapping file)
DESIGN = {
    "user_need": (["requirements/user_needs.yaml"], None),
    "requirement": (["requirements/software"], None),
    "risk": (["risk/hazards.yaml"], None),
    "control": (["risk/controls.yaml"], None),
    "criterion": (["verification"], "criteria"),
}
# What earlier releases wrote under another name, read as today's so that a representation
# change is not reported as a design change (issue 15: software requirements and risk controls
# called their category ``type``; hazards gave severity and probability as level numbers).
RENAMED = {"requirement": {"type": "kind"}, "control": {"type": "kind"}}
LEVELS = ("severity", "probability", "residual_severity", "residual_probability")
RISK_PLAN = "risk/plan.yaml"
LOCK = "dvc.lock"
SOUP_LOCK = "requirements.lock"
PARAMS = "params.yaml"


@dataclass
class Snapshot:
    """One release's state; ``commit`` is None for the working tree."""

    label: str
    commit: str | None
    date: str | None
    items: dict[str, dict[str, dict]] = field(default_factory=dict)  # area -> id -> item
    results: dict[str, dict] | None = None  # criterion -> {status, models: {name: value}}
    results_note: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stage -> path -> md5
    soup: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def at_revision(root: Path, rev: str) -> Snapshot:
    """The release recorded at git revision ``rev``.

    Args:
        root: the repository root.
        rev: any git revision (``HEAD~1``, a tag, a commit).
    """
    root = Path(root)
    try:
        commit = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        raise UserError(f"release diff: {rev!r} is not a git revision of {root}") from None
    date = _git(root, "log", "-1", "--format=%cI", commit)
    listing = _git(root, "ls-tree", "-r", "--name-only", commit).splitlines()

    def read(rel: str) -> str | None:
        if rel not in listing:
            return None
        return _git(root, "show", f"{commit}:{rel}", strip=False)

    snap = Snapshot(rev, commit, date)
    _fill(snap, read, listing)
    lock = _yaml(read(LOCK)) or {}
    # where that release kept its V&V results: its own params.yaml's paths, else today's
    vnv_rel = str(((_yaml(read(PARAMS)) or {}).get("paths") or {}).get("vnv_metrics") or repo_paths(root).vnv_metrics)
    md5 = next((o.get("md5") for s in (lock.get("stages") or {}).values() for o in s.get("outs") or []
                if str(o.get("path")) == vnv_rel), None)
    cached = _dvc_cache(root, md5) if md5 else None
    if cached is None:
        snap.results_note = (f"{vnv_rel} of {rev} is not available: " + ("its dvc.lock records none" if not md5 else
                             f"md5 {md5} is not in the DVC cache (dvc pull, or run at that revision)"))
    else:
        try:  # written by that revision's verify stage: a record of another pipeline version is not compared
            snap.results = criteria_results(load_vnv(cached))
        except UserError as exc:
            snap.results_note = f"{vnv_rel} of {rev} is not compared: {exc}"
    return snap


def working_tree(root: Path, commit: str | None) -> Snapshot:
    """The release in the working tree (the current one).

    Args:
        root: the repository root.
        commit: the release's commit, for the label.
    """
    root = Path(root)

    def read(rel: str) -> str | None:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    listing = sorted(p.relative_to(root).as_posix() for folder in ("requirements", "risk", "verification")
                     if (root / folder).is_dir() for p in (root / folder).rglob("*.yaml"))
    snap = Snapshot("working tree", commit, None)
    _fill(snap, read, listing)
    vnv_rel = repo_paths(root).vnv_metrics
    vnv = root / vnv_rel
    if vnv.is_file():
        snap.results = criteria_results(load_vnv(vnv))
    else:
        snap.results_note = f"{vnv_rel} not found: run dvc repro"
    return snap


def criteria_results(vnv: VnvRecord) -> dict[str, dict]:
    """``criterion -> {status, models: {model: {status, value}}}`` of a ``vnv.json``."""
    return {cid: {"status": result.status,
                  "models": {name: {"status": m.status, "value": m.value} for name, m in sorted(result.models.items())}}
            for cid, result in sorted(vnv.criteria.items())}


def _fill(snap: Snapshot, read, listing: list[str]) -> None:
    plan = _yaml(read(RISK_PLAN)) if RISK_PLAN in listing else None
    params = _yaml(read(PARAMS)) or {}
    verify = params.get("verify") if isinstance(params, dict) else None
    vnv_plan = verify.get("plan") if isinstance(verify, dict) else None
    for area, (sources, key) in DESIGN.items():
        items: dict[str, dict] = {}
        if area == "criterion" and isinstance(vnv_plan, str):  # the plan that revision's verify judged by
            sources = [vnv_plan]
        for source in sources:
            files = [source] if source.endswith(".yaml") else sorted(
                f for f in listing if f.startswith(source + "/") and f.endswith(".yaml")
                and "/" not in f[len(source) + 1:])
            for rel in files:
                data = _yaml(read(rel))
                if key is not None:
                    data = data.get(key) if isinstance(data, dict) else None
                for entry in data or []:
                    if isinstance(entry, dict) and "id" in entry:
                        items[str(entry["id"])] = {**_as_today(area, entry, plan), "_file": rel}
        snap.items[area] = items
    lock = _yaml(read(LOCK)) or {}
    for stage, entry in sorted((lock.get("stages") or {}).items()):
        if stage in DOCUMENT_STAGES:
            continue
        snap.outputs[stage] = {str(o["path"]): str(o.get("md5") or o.get("etag") or "unknown")
                               for o in entry.get("outs") or []}
    snap.soup = _pins(read(SOUP_LOCK) or "")
    snap.params = params


def _as_today(area: str, entry: dict, plan: Any) -> dict:
    """An item as today's files write it: renamed keys, a hazard's level numbers as the names of
    its own revision's plan (``4`` -> ``critical``); anything else exactly as written."""
    out = {RENAMED.get(area, {}).get(k, k): v for k, v in entry.items()}
    if area == "risk" and isinstance(plan, dict):
        for level in LEVELS:
            scale = plan.get("severity" if level.endswith("severity") else "probability") or []
            names = {lv.get("level"): lv.get("name") for lv in scale if isinstance(lv, dict)}
            value = out.get(level)
            if isinstance(value, int) and not isinstance(value, bool) and names.get(value):
                out[level] = names[value]
    return out


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def _dvc_cache(root: Path, md5: str) -> Path | None:
    for cache in (root / ".dvc" / "cache" / "files" / "md5", root / ".dvc" / "cache"):
        path = cache / md5[:2] / md5[2:]
        if path.is_file():
            return path
    return None


def _yaml(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _git(root: Path, *args: str, strip: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip() if strip else done.stdout
