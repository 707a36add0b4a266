"""Shifting DICOM dates (DA) and date-times (DT) by a whole number of days.

Times of day are not changed by a whole-day shift, so TM values and the time part of DT
values stay as they are; intervals between a patient's studies are preserved exactly.
A value that is not a valid date returns None (the caller removes it).
"""

from __future__ import annotations

import datetime

_ORDINAL_MIN = datetime.date(1, 1, 1).toordinal()
_ORDINAL_MAX = datetime.date(9999, 12, 31).toordinal()


def shift_da(value: str, days: int) -> str | None:
    """Shift one DA value ``YYYYMMDD`` (also the old ``YYYY.MM.DD``) by ``days``.

    Args:
        value: the DA string.
        days: the offset in days (negative moves into the past).
    """
    text = value.strip().replace(".", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        day = datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    ordinal = day.toordinal() + days
    if not _ORDINAL_MIN <= ordinal <= _ORDINAL_MAX:
        return None
    moved = datetime.date.fromordinal(ordinal)
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"  # strftime drops zeros of years < 1000


def shift_dt(value: str, days: int) -> str | None:
    """Shift one DT value ``YYYYMMDD[HHMMSS[.F]][&ZZXX]``; the time part is kept.

    A DT with less than a full date (``YYYY`` or ``YYYYMM``) cannot be shifted by days and
    returns None.

    Args:
        value: the DT string.
        days: the offset in days.
    """
    text = value.strip()
    date = shift_da(text[:8], days) if len(text) >= 8 else None
    if date is None:
        return None
    return date + text[8:]


def shift_value(value: str, vr: str, days: int) -> str | None:
    """Shift a possibly multi-valued DA or DT string; None if any part is not a date.

    Args:
        value: the raw string (values separated by backslash).
        vr: ``"DA"`` or ``"DT"``.
        days: the offset in days.
    """
    shift = shift_da if vr == "DA" else shift_dt
    parts = []
    for part in value.split("\\"):
        if not part.strip():
            parts.append("")
            continue
        moved = shift(part, days)
        if moved is None:
            return None
        parts.append(moved)
    return "\\".join(parts)
