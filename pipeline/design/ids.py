"""The ID scheme of design items: IDs are data, matched by pattern, never parsed from prose."""

from __future__ import annotations

URS = r"^URS-\d{3}$"
SRS = r"^SRS-[A-Z]{2,8}-\d{3}$"
RISK = r"^RISK-\d{3}$"
RC = r"^RC-\d{3}$"
VAL = r"^VAL-\d{3}$"
