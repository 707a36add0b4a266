"""The files a release hands over, as the manifest lists them, and what changed between two lists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.core.provenance import file_sha256
from pipeline.governance import paths
from pipeline.governance.manifest import Manifest
from pipeline.governance.paths import UNSIGNED_PAGES


@dataclass(frozen=True)
class FileChange:
    """A released file that differs from an approved (or recorded) list."""

    path: str  # relative to the repository root
    change: str  # "changed" | "missing" | "added"
    before: str | None
    after: str | None

    def line(self) -> str:
        """``release/models/x.onnx changed (sha256 abc... -> def...)``."""
        if self.change == "changed":
            return f"{self.path} changed (sha256 {self.before[:12]} -> {self.after[:12]})"
        return f"{self.path} {'is missing' if self.change == 'missing' else 'was added'}"


def released_files(release_dir: Path, exclude: Path) -> list[dict]:
    """``path``, ``sha256`` and ``bytes`` of every file under ``release_dir``, sorted by path.

    The pages that show the approvals signed over the manifest (``UNSIGNED_PAGES``) are left out:
    an approval must not change what it signs.

    Args:
        release_dir: the release folder.
        exclude: the manifest itself (not listed in itself).
    """
    root = Path(release_dir)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() == Path(exclude).resolve() or any(part.startswith(".") for part in
                                                             path.relative_to(root).parts):
            continue
        if path.relative_to(root).as_posix() in UNSIGNED_PAGES:
            continue
        files.append({"path": path.relative_to(root).as_posix(), "sha256": file_sha256(path),
                      "bytes": path.stat().st_size})
    return files


def current_files(root: Path) -> dict[str, str]:
    """``release/<path> -> sha256`` of every file the manifest would list now."""
    rel = paths.release(root)
    release = Path(root) / rel
    if not release.is_dir():
        return {}
    return {f"{rel.as_posix()}/{f['path']}": f["sha256"]
            for f in released_files(release, Path(root) / paths.manifest(root))}


def manifest_files(manifest: Manifest, release: Path) -> dict[str, str]:
    """``release/<path> -> sha256`` of the files a manifest lists."""
    return {f"{Path(release).as_posix()}/{f.path}": f.sha256 for f in manifest.files}


def drift(recorded: dict[str, str], current: dict[str, str]) -> list[FileChange]:
    """Every file changed, missing or added relative to ``recorded``, sorted by path."""
    out = []
    for path in sorted(set(recorded) | set(current)):
        before, after = recorded.get(path), current.get(path)
        if before == after:
            continue
        change = "missing" if after is None else "added" if before is None else "changed"
        out.append(FileChange(path, change, before, after))
    return out
