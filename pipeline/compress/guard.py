"""The locked test split never reaches distillation or calibration: checked on the case IDs used."""

from __future__ import annotations

from pipeline.data.cache import LockedSplitError
from pipeline.preprocess.records import SplitsRecord


def check_not_locked(case_ids: list[str], splits: SplitsRecord, purpose: str) -> None:
    """Raise ``LockedSplitError`` if any case ID belongs to a locked split (test, external).

    Args:
        case_ids: the cases about to be used.
        splits: the splits record.
        purpose: what they are used for (named in the error).
    """
    locked = set()
    for name in splits.locked:
        locked.update(entry.case_id for entry in splits.cases(name))
    leaked = sorted(set(case_ids) & locked)
    if leaked:
        raise LockedSplitError(f"{purpose} would use {len(leaked)} case(s) of a locked split (test or external): "
                               f"{leaked[:5]}")
