"""The SHA-256 sidecar of a released file (``<file>.sha256``, ``sha256sum`` format).

A model file runs only when its bytes match the digest recorded beside it (or one the caller
requires), so a changed or substituted file is refused before any inference.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.atomic import atomic_file
from pipeline.core.provenance import file_sha256

SIDECAR_SUFFIX = ".sha256"


def sidecar_path(path: Path) -> Path:
    """Where the SHA-256 of ``path`` is recorded."""
    return Path(str(path) + SIDECAR_SUFFIX)


def write_sidecar(path: Path) -> str:
    """Write ``<path>.sha256`` in ``sha256sum`` format; return the digest."""
    path = Path(path)
    digest = file_sha256(path)
    with atomic_file(sidecar_path(path)) as handle:
        handle.write(f"{digest}  {path.name}\n")
    return digest


def read_sidecar(path: Path) -> str | None:
    """The digest recorded beside ``path``, or None when there is no sidecar."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    text = side.read_text().split()
    return text[0].lower() if text else None
