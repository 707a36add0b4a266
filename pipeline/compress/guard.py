"""The locked test split never reaches distillation or calibration: checked on the case IDs used."""

from __future__ import annotations

from pipeline.data.cache import LOCKED, LockedSplitError


def check_not_locked(case_ids: list[str], splits: dict, purpose: str) -> None:
    """Raise ``LockedSplitError`` if any case ID belongs to a locked split (test, external).

    Args:
        case_ids: the cases about to be used.
        splits: the parsed splits JSON.
        purpose: what they are used for (named in the error).
    """
    locked = set()
    for name in splits.get("locked", LOCKED):
        locked.update(entry["case_id"] for entry in splits["splits"].get(name, []))
    leaked = sorted(set(case_ids) & locked)
    if leaked:
        raise LockedSplitError(f"{purpose} would use {len(leaked)} case(s) of a locked split (test or external): "
                               f"{leaked[:5]}")
