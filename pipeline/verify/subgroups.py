"""Subgroup membership of test cases: site, manufacturer, sex and age band.

A case whose attribute was not recorded (e.g. sex removed by de-identification) falls into
the level ``unknown``; that level is never evaluated as if it were a real subgroup (the
criterion reports it as INCONCLUSIVE, see ``pipeline.verify.criteria``), also when it is
unknown for every case: the data could have shown it and did not. When the source format does
not carry the attribute at all (image folders, MSD NIfTI: ``carried``), there is no subgroup to
analyse: the criterion is NOT APPLICABLE and the summaries leave the attribute empty.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

UNKNOWN = "unknown"
BY = ("site", "manufacturer", "sex", "age_band")


def age_band(age: int | None, edges: Sequence[int]) -> str:
    """The band ``"lo-hi"`` (``lo <= age < hi``) holding ``age``, or ``unknown``.

    Args:
        age: age in years, or None when not recorded.
        edges: increasing band edges in years, e.g. ``[18, 45, 65, 120]``.
    """
    if age is None:
        return UNKNOWN
    for lo, hi in zip(edges, edges[1:]):
        if lo <= age < hi:
            return f"{lo}-{hi - 1}"
    return UNKNOWN


def attribute(by: str) -> str:
    """The case attribute a subgroup is cut by (``age_band`` is cut from ``age``)."""
    if by not in BY:
        raise ValueError(f"unknown subgroup attribute {by!r}; allowed: {list(BY)}")
    return "age" if by == "age_band" else by


def recorded(case: dict, by: str) -> bool:
    """Whether the case records the attribute ``by`` is cut from (an age outside every band is
    recorded: its level is ``unknown``, but the attribute exists)."""
    value = case.get(attribute(by))
    return value is not None and str(value).strip().lower() not in ("", UNKNOWN)


def carried(case: dict, by: str) -> bool:
    """Whether the case's source format carries the attribute at all (DICOM does, with
    ``unknown`` where a file lacks it or de-identification removed it; image folders and MSD
    NIfTI do not: their cases list it under ``unrecorded``)."""
    return attribute(by) not in case.get("unrecorded", ())


def level_of(case: dict, by: str, edges: Sequence[int]) -> str:
    """The subgroup level of one case record.

    Args:
        case: a record with ``site``, ``manufacturer``, ``sex`` and ``age`` keys.
        by: one of ``BY``.
        edges: age band edges in years.
    """
    if attribute(by) == "age":
        return age_band(case.get("age"), edges)
    return str(case[by]).strip() if recorded(case, by) else UNKNOWN


def group(cases: Sequence[dict], by: str, edges: Sequence[int]) -> dict[str, list[int]]:
    """Indices of ``cases`` per subgroup level, levels sorted by name.

    Args:
        cases: case records (see ``level_of``).
        by: one of ``BY``.
        edges: age band edges in years.
    """
    levels: dict[str, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        levels[level_of(case, by, edges)].append(index)
    return dict(sorted(levels.items()))
