"""Refuse to record a stage whose code or params changed while it ran.

DVC hashes a stage's dependencies when the command has finished, not when it starts. An edit
to the pipeline's code or to ``params.yaml`` during a run is therefore written into
``dvc.lock`` beside outputs that the old code made, and ``dvc repro`` then calls the stage up
to date: the release would describe code that did not build it (seen here: a teacher trained
by the old loop recorded against the edited one). Each stage command takes a snapshot of the
``pipeline`` package's Python files and its params file before its core runs and compares it
after; a difference stops the command with an error before DVC can record the stage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.core.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1]


def snapshot(params_path: Path, package: Path = PACKAGE) -> dict[str, str]:
    """SHA-256 of every ``*.py`` under ``package`` and of ``params_path`` (path -> digest)."""
    files = sorted(package.rglob("*.py")) + [Path(params_path)]
    return {str(path): _digest(path) for path in files}


def check_unchanged(before: dict[str, str], params_path: Path, package: Path = PACKAGE) -> None:
    """Raise ``UserError`` naming the files that were changed, added or removed since ``before``."""
    after = snapshot(params_path, package)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise UserError(f"changed while the stage ran: {shown}. Its outputs were made by the code and params "
                        "from before the change, and DVC would record them against the new ones: run the stage "
                        "again (dvc repro)")


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"
