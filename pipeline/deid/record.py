"""The de-identification report (``metrics/deid.json``): counts only, no identifying value.

Written by the deid stage (also when it refuses a run, with ``status: failed``), read by the
technical file (threat model, data description).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.records import RecordModel, load_record
from pipeline.deid.params import ProfileOptions


class LeakCheckSummary(RecordModel):
    """The independent leak check: what it read and searched, and how many leaks it found."""

    inputs_read: int
    outputs_checked: int
    identifying_values: int
    leaks: int


class LeakCheckSkipped(RecordModel):
    """The leak check was not run (only the benchmark that times the de-identifier alone)."""

    enabled: Literal[False]


class PixelTextSummary(RecordModel):
    """Burned-in text looked for in the pixels of images whose header does not flag it
    (``pixeltext``): how many files and frames the cheap screen and the OCR read, and in how many
    files text was found (quarantined, or blanked when ``burned_in.mode`` is blank)."""

    files_screened: int
    frames_screened: int
    files_ocr: int
    frames_ocr: int
    files_with_text: int


class ProfileSummary(RecordModel):
    """The PS3.15 Annex E profile applied: table rows, options, the method codes they amount to."""

    table_rows: int
    options: ProfileOptions
    method_codes: list[str]


class DeidReport(RecordModel):
    """Files in, written and quarantined (by reason), what was removed, the leak check, the time."""

    files_in: int
    written: int
    quarantined: int
    quarantined_by_reason: dict[str, int]  # reason -> files
    quarantined_share: float
    removed_unknown_attributes: int
    removed_private_attributes: int
    pixel_text: PixelTextSummary
    patients: int
    studies: int
    series: int
    profile: ProfileSummary
    allow_listed_attributes: int
    leak_check: LeakCheckSummary | LeakCheckSkipped
    max_quarantined_share: float
    seconds: float
    status: Literal["ok", "failed"]


def load_deid_report(path: Path) -> DeidReport:
    """Parse ``metrics/deid.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, DeidReport, "de-identification report", "deid")
