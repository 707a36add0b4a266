"""The ID scheme of design items: IDs are data, matched by pattern, never parsed from prose."""

from __future__ import annotations

import re

URS = r"^URS-\d{3}$"
SRS = r"^SRS-[A-Z]{2,8}-\d{3}$"
RISK = r"^RISK-\d{3}$"
RC = r"^RC-\d{3}$"
VAL = r"^VAL-\d{3}$"

KIND_PATTERNS = {
    "user_need": URS,
    "requirement": SRS,
    "risk": RISK,
    "control": RC,
    "criterion": VAL,
}


def kind_of(item_id: str) -> str | None:
    """The design-item kind an ID belongs to (``requirement``, ``risk``...), or ``None``.

    Args:
        item_id: an ID such as ``SRS-DEID-001``.
    """
    for kind, pattern in KIND_PATTERNS.items():
        if re.match(pattern, item_id):
            return kind
    return None
