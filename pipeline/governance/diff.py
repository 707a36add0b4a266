"""``release diff REV``: every change between the release at a git revision and the current one.

Design items added, removed or changed (per field, with a line diff of text), acceptance-criteria
results with metric deltas, the output hashes of the evidence stages (data and models), SOUP
versions and params, each classified against the PCCP (``classify``). The report holds no
wall-clock time: re-running it on the same state gives the same files.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pipeline.core.provenance import head_commit
from pipeline.governance import paths
from pipeline.governance.classify import classify, load_rules
from pipeline.governance.snapshot import DESIGN, Snapshot, at_revision, working_tree

AREA_TITLES = {"user_need": "User needs", "requirement": "Software requirements", "risk": "Risks",
               "control": "Risk controls", "criterion": "Acceptance criteria (definitions)",
               "result": "Acceptance-criteria results", "output": "Data and model hashes (dvc.lock)",
               "soup": "SOUP versions (requirements.lock)", "params": "Parameters (params.yaml)"}
CLASSES = ("new submission", "within PCCP", "documentation only")


def diff_release(root: Path, rev: str, rules_path: Path | None = None) -> dict:
    """The change report (plain data, JSON-ready) of the working tree against ``rev``.

    Args:
        root: the repository root.
        rev: the previous release's git revision.
        rules_path: the classification rules (default ``governance/change_rules.yaml``).
    """
    root = Path(root)
    rules = load_rules(rules_path or root / paths.CHANGE_RULES)
    old = at_revision(root, rev)
    new = working_tree(root, head_commit(root))
    changes = compare(old, new)
    criteria_pass = bool(new.results) and all(r["status"] == "PASS" for r in new.results.values())
    for change in changes:
        change.update(classify(change, rules, criteria_pass))
    counts = {c: sum(1 for x in changes if x["classification"] == c) for c in CLASSES}
    return {
        "from": {"rev": rev, "commit": old.commit, "date": old.date},
        "to": {"commit": new.commit or "not a git checkout", "working_tree": True},
        "criteria_pass": criteria_pass,
        "notes": [n for n in (old.results_note, new.results_note) if n],
        "summary": {"changes": len(changes), "new_submission": counts["new submission"],
                    "within_pccp": counts["within PCCP"], "documentation_only": counts["documentation only"],
                    "by_area": {a: sum(1 for c in changes if c["area"] == a) for a in AREA_TITLES},
                    "verdict": ("new submission needed" if counts["new submission"] else
                                "within the PCCP" if counts["within PCCP"] else
                                "no change of regulatory impact")},
        "areas": AREA_TITLES,
        "changes": changes,
    }


def compare(old: Snapshot, new: Snapshot) -> list[dict]:
    """Every change from ``old`` to ``new``, in area order, then by ID."""
    changes: list[dict] = []
    for area in DESIGN:
        changes += _items(area, old.items.get(area, {}), new.items.get(area, {}))
    changes += _results(old.results, new.results)
    old_out = {f"{s}:{p}": h for s, outs in old.outputs.items() for p, h in outs.items()}
    new_out = {f"{s}:{p}": h for s, outs in new.outputs.items() for p, h in outs.items()}
    changes += _values("output", old_out, new_out)
    changes += _values("soup", old.soup, new.soup)
    changes += _values("params", _flatten(old.params), _flatten(new.params))
    return changes


def _items(area: str, old: dict[str, dict], new: dict[str, dict]) -> list[dict]:
    out = []
    for iid in sorted(set(old) | set(new)):
        before, after = old.get(iid), new.get(iid)
        if before == after:
            continue
        if before is None or after is None:
            item = after if before is None else before
            out.append({"area": area, "id": iid, "action": "added" if before is None else "removed",
                        "title": str(item.get("title", "")), "file": item["_file"], "fields": []})
            continue
        fields = []
        for key in sorted(set(before) | set(after)):
            if key == "_file" or before.get(key) == after.get(key):
                continue
            fields.append(_field(key, before.get(key), after.get(key)))
        if fields:
            out.append({"area": area, "id": iid, "action": "changed", "title": str(after.get("title", "")),
                        "file": after["_file"], "fields": fields})
    return out


def _field(key: str, before: Any, after: Any) -> dict:
    a, b = _text(before), _text(after)
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0))[2:]
    words = [[w[0], w[2:]] for w in difflib.ndiff(a.split(), b.split()) if w[0] in " -+"]
    return {"field": key, "before": a, "after": b, "diff": lines, "words": words}


def _results(old: dict | None, new: dict | None) -> list[dict]:
    if old is None or new is None:
        return []
    out = []
    for cid in sorted(set(old) | set(new)):
        before, after = old.get(cid), new.get(cid)
        if before == after:
            continue
        action = "added" if before is None else "removed" if after is None else "changed"
        models = []
        for name in sorted(set((before or {}).get("models", {})) | set((after or {}).get("models", {}))):
            b = (before or {}).get("models", {}).get(name) or {}
            a = (after or {}).get("models", {}).get(name) or {}
            if a == b:
                continue
            delta = (a["value"] - b["value"]) if _number(a.get("value")) and _number(b.get("value")) else None
            models.append({"model": name, "status_before": b.get("status"), "status_after": a.get("status"),
                           "value_before": b.get("value"), "value_after": a.get("value"), "delta": delta})
        out.append({"area": "result", "id": cid, "action": action, "title": "",
                    "status_before": (before or {}).get("status"), "now_status": (after or {}).get("status"),
                    "models": models, "fields": []})
    return out


def _values(area: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        action = "added" if key not in old else "removed" if key not in new else "changed"
        out.append({"area": area, "id": key, "action": action, "title": "",
                    "before": _text(old.get(key)) if key in old else None,
                    "after": _text(new.get(key)) if key in new else None, "fields": []})
    return out


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)
