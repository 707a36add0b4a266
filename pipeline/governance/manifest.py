"""The release manifest's record (``release/manifest.json``): every released file with its SHA-256.

Written by the technical file stage (``pipeline.techfile.manifest``), read by release governance
(``release approve`` signs it, ``release verify`` compares the release with the approved copy).
The model lives here, below both: governance never imports a stage, and the techfile stage
already builds on governance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.core.records import RecordModel, load_record, parse_record

WHAT, WRITER = "release manifest", "techfile"


class ReleasedFile(RecordModel):
    """One released file (``path`` relative to the release folder)."""

    path: str
    sha256: str
    bytes: int


class Manifest(RecordModel):
    """The build a release was rendered from, its status and every file it hands over."""

    git_commit: str
    commit_date: str
    draft: bool  # rendered from uncommitted changes: never approved
    uncommitted_changes: list[str]
    dvc_lock_evidence_sha256: str  # pipeline.core.provenance.evidence_lock_sha256
    mlflow_runs: dict[str, str]  # stage -> MLflow run ID
    release_status: Literal["releasable", "draft", "not releasable"]
    reasons: list[str]
    files: list[ReleasedFile]


def parse_manifest(content: bytes, path: Path) -> Manifest:
    """A manifest's bytes (the current one, or an approval's stored copy of it), parsed; a
    ``UserError`` naming the file and the bad field when they are not a manifest."""
    return parse_record(content, Path(path), Manifest, WHAT, WRITER)


def load_manifest(path: Path) -> Manifest:
    """Parse ``release/manifest.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, Manifest, WHAT, WRITER)
