"""Suspect links: fingerprints of linked items recorded at review time (Doorstop style).

The review file (``requirements/reviews.yaml``, committed) holds, per reviewed item or stage,
the fingerprint of the item itself (what its verification was reviewed against) and of every
item it links to. A link whose target's fingerprint changed, or an item changed since its
verification was reviewed, is suspect until ``python -m pipeline trace review ID`` records
the current fingerprints again. Git history of the file is the review record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError

REVIEWS = Path("requirements/reviews.yaml")
HEADER = """\
# Review record of trace links, written by `python -m pipeline trace review ID` (do not edit).
# Per item or stage: the fingerprint of the item itself when its verification was reviewed,
# and the fingerprint of every item it links to. A changed fingerprint marks the link suspect
# in `python -m pipeline trace check` until the link is reviewed again.
"""
FINGERPRINT_CHARS = 16


def fingerprint(item: BaseModel | dict[str, Any]) -> str:
    """A short SHA-256 of an item's content (all fields, canonical JSON).

    Args:
        item: a design item model, or a plain mapping (stages).
    """
    data = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_CHARS]


def load_reviews(path: Path) -> dict[str, dict[str, Any]]:
    """The review records, ``{}`` when the file does not exist yet.

    Args:
        path: the review file.
    """
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UserError(f"{path}: expected a mapping of item ID to review record")
    return data


def save_reviews(path: Path, reviews: dict[str, dict[str, Any]]) -> None:
    """Write the review records sorted by ID, atomically (stable diffs for git).

    Args:
        path: the review file.
        reviews: ``{id: {"fingerprint": str, "links": {target: str}}}``.
    """
    ordered = {key: {"fingerprint": rec["fingerprint"], "links": dict(sorted(rec["links"].items()))}
               for key, rec in sorted(reviews.items())}
    with atomic_file(path) as handle:
        handle.write(HEADER + yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False))


def review_record(own: str, targets: dict[str, str]) -> dict[str, Any]:
    """One item's review record from its own and its link targets' fingerprints."""
    return {"fingerprint": own, "links": dict(targets)}


def suspect_links(reviews: dict[str, dict[str, Any]], item_id: str, own: str,
                  targets: dict[str, str]) -> list[tuple[str, str]]:
    """``(target, reason)`` for each suspect link of one item; target == item for its own change.

    Args:
        reviews: the loaded review records.
        item_id: the reviewed item or stage.
        own: its current fingerprint.
        targets: current fingerprints of the items it links to.
    """
    record = reviews.get(item_id)
    if record is None:
        return [(item_id, "never reviewed")]
    out = []
    if record.get("fingerprint") != own:
        out.append((item_id, f"{item_id} changed since its verification was reviewed"))
    links = record.get("links") or {}
    for target, print_now in targets.items():
        if target not in links:
            out.append((target, f"link to {target} added since the last review"))
        elif links[target] != print_now:
            out.append((target, f"{target} changed since {item_id} was reviewed"))
    return out
