"""The PS3.15 Table E.1-1 action table as data, resolved once for a set of profile options.

Every row of the table becomes one entry of a ``tag -> action`` dict (repeating groups
50xx/60xx and the odd-group private row are kept apart), so the per-element work while
de-identifying is a single dict lookup.

Resolution of one row:

1. If a selected option has a column for the row, the option wins; among several selected
   options the most retaining one wins (K before C), except that Retain Longitudinal Temporal
   Information with Modified Dates always governs a date it lists (Date of Last Calibration is
   shifted, not kept raw, when Retain Device Identity is also on).
2. Otherwise the basic-profile code applies. Combined codes are resolved to the least
   destructive code that still removes the value: ``X/Z``, ``X/Z/D`` and ``Z/D`` become ``Z``
   (the attribute stays, empty, so type 2 attributes keep their IOD valid), ``X/D`` becomes
   ``D``, and ``X/Z/U*`` becomes ``U*`` (the sequence is kept and every UID inside is replaced).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.deid.params import ProfileOptions

TABLE_PATH = Path(__file__).parent / "data" / "confidentiality_profile_attributes.json"
ACTIONS = ("X", "Z", "D", "K", "C", "U", "U*")
COMBINED = {"X/Z": "Z", "X/Z/D": "Z", "Z/D": "Z", "X/D": "D", "X/Z/U*": "U*"}
PRIVATE_ROW = "ggggeeee-where-gggg-is-odd"
MODIFIED_DATES = "rtnLongModifDatesOpt"
_TAG = re.compile(r"^\(([0-9A-F]{4}),([0-9A-F]{4})\)$")
_REPEATING = re.compile(r"^\(([0-9A-F]{2})XX,([0-9A-FX]{4})\)$")

# CID 7050 (De-identification Method) codes: (code value, meaning).
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
OPTION_CODES = {
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}
DATE_CODES = {
    "full": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "modified": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
}
CLEAN_PIXEL_DATA = ("113101", "Clean Pixel Data Option")


@dataclass(frozen=True)
class Profile:
    """The resolved action table for one choice of options."""

    actions: dict[int, str]
    repeating: dict[tuple[int, int | None], str]
    private_action: str
    options: ProfileOptions
    rows: int

    def action(self, tag: int) -> str | None:
        """The action for ``tag`` (an int ``0xGGGGEEEE``), or None when the table has no row."""
        found = self.actions.get(tag)
        if found is not None:
            return found
        group = tag >> 16
        if 0x5000 <= group <= 0x60FF and not group & 1:
            high = group & 0xFF00
            return self.repeating.get((high, tag & 0xFFFF), self.repeating.get((high, None)))
        return None

    def method_codes(self) -> list[tuple[str, str]]:
        """The CID 7050 codes describing what this profile applies."""
        codes = [BASIC_PROFILE]
        if self.options.retain_longitudinal_temporal in DATE_CODES:
            codes.append(DATE_CODES[self.options.retain_longitudinal_temporal])
        codes += [code for name, code in OPTION_CODES.items() if getattr(self.options, name)]
        return codes


def option_columns(options: ProfileOptions) -> list[str]:
    """The table columns of the selected options.

    Args:
        options: the profile options from params.
    """
    columns = {
        "retain_patient_characteristics": "rtnPatCharsOpt",
        "retain_device_identity": "rtnDevIdOpt",
        "retain_institution_identity": "rtnInstIdOpt",
        "retain_uids": "rtnUIDsOpt",
        "retain_safe_private": "rtnSafePrivOpt",
        "clean_descriptors": "cleanDescOpt",
        "clean_structured_content": "cleanStructContOpt",
        "clean_graphics": "cleanGraphOpt",
    }
    selected = [column for name, column in columns.items() if getattr(options, name)]
    if options.retain_longitudinal_temporal == "full":
        selected.append("rtnLongFullDatesOpt")
    elif options.retain_longitudinal_temporal == "modified":
        selected.append("rtnLongModifDatesOpt")
    return selected


def build_profile(options: ProfileOptions, table_path: Path = TABLE_PATH) -> Profile:
    """Resolve every row of the table for ``options``.

    Args:
        options: the profile options from params.
        table_path: the Annex E table as JSON (one object per row).
    """
    rows = load_table(Path(table_path))
    columns = option_columns(options)
    actions: dict[int, str] = {}
    repeating: dict[tuple[int, int | None], str] = {}
    private_action = "X"
    for row in rows:
        action = resolve_row(row, columns)
        if row["id"] == PRIVATE_ROW:
            private_action = action
        elif match := _TAG.match(row["tag"]):
            actions[int(match[1] + match[2], 16)] = action
        elif match := _REPEATING.match(row["tag"]):
            element = None if "X" in match[2] else int(match[2], 16)
            repeating[(int(match[1], 16) << 8, element)] = action
        else:
            raise ValueError(f"{table_path}: row {row['name']!r} has an unknown tag form {row['tag']!r}")
    return Profile(actions, repeating, private_action, options, len(rows))


def resolve_row(row: dict, columns: list[str]) -> str:
    """The one action of a table row under the selected option columns.

    Args:
        row: one table row (``basicProfile`` plus option columns).
        columns: the option columns that are selected.
    """
    if MODIFIED_DATES in columns and MODIFIED_DATES in row:
        return row[MODIFIED_DATES]  # a date is shifted even where another option keeps the row
    chosen = {row[column] for column in columns if column in row}
    if "K" in chosen:
        return "K"
    if "C" in chosen:
        return "C"
    code = row["basicProfile"]
    code = COMBINED.get(code, code)
    if code not in ACTIONS:
        raise ValueError(f"table row {row['name']!r} has an unknown action {row['basicProfile']!r}")
    return code


@functools.lru_cache(maxsize=4)
def load_table(path: Path) -> tuple[dict, ...]:
    """Read the action table once per process."""
    return tuple(json.loads(Path(path).read_text()))
