"""Where a result came from: the git commit and the ``dvc.lock`` hashes of its inputs."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import yaml

LOCK_FILE = Path("dvc.lock")


def git_commit(repo: Path = Path(".")) -> str:
    """The commit checked out in ``repo``, with ``-dirty`` when tracked files changed.

    Returns ``"unknown"`` outside a git checkout (an exported source tree).
    """
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def lock_hashes(paths: list[str], lock_file: Path = LOCK_FILE) -> dict[str, str]:
    """The md5 that ``dvc.lock`` records for each path that some stage produced.

    During ``dvc repro`` the upstream stages have already finished and written their
    entries, so these are the hashes of exactly the inputs the current stage reads.
    Paths no stage produces (source files, raw data) map to ``"untracked"``.
    """
    outs = _lock_outputs(lock_file)
    return {path: outs.get(_norm(path), "untracked") for path in paths}


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _lock_outputs(lock_file: Path) -> dict[str, str]:
    if not lock_file.is_file():
        return {}
    lock = yaml.safe_load(lock_file.read_text()) or {}
    outs: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            outs[_norm(out["path"])] = out.get("md5", "unknown")
    return outs


def _norm(path: str) -> str:
    return str(Path(path)).rstrip("/")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()
