"""The trace stage's gate summary (``metrics/trace.json``): the release status and the counts.

Written by the trace stage (``pipeline.trace.site.summary``) as its DVC metrics; no stage reads it
back today, but ``make repro`` leaves it, so it has a model like every other record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.records import RecordModel, load_record


class TraceSummary(RecordModel):
    """Release status, counts and the uncommitted files that make a build a draft."""

    release_status: Literal["releasable", "draft", "not releasable"]
    # items, tests and problems by name; one ``problems_<gate>`` count per gate that found any, so
    # the keys follow the gates (pipeline.trace.gates) rather than a fixed list
    counts: dict[str, int]
    changed_files: list[str]


def load_trace_summary(path: Path) -> TraceSummary:
    """Parse ``metrics/trace.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, TraceSummary, "trace gate summary", "trace")
