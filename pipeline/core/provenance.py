"""Where a result came from: the git commit and the ``dvc.lock`` hashes of its inputs, and
whether a release is built from committed sources (``uncommitted_changes``).

The document stages (``trace``, ``techfile``) render the recorded evidence and then record their
own outputs in ``dvc.lock``; their entries are left out where the lock identifies the evidence
(``evidence_lock_sha256``, ``uncommitted_changes``), or every render would change what it prints
and a committed release could never be re-rendered byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import yaml

LOCK_FILE = Path("dvc.lock")
DOCUMENT_STAGES = ("trace", "techfile")


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


# Signed approvals of a release (``pipeline.governance``): committing them does not change the
# release they sign, so commits that touch nothing else do not count as the release's commit.
SIGNATURE_RECORDS = "governance/approvals"


def head_commit(repo: Path = Path(".")) -> str | None:
    """The commit checked out in ``repo`` (no ``-dirty`` suffix); None outside a git checkout.

    Commits that only add or change approval records (``SIGNATURE_RECORDS``) are skipped: the
    release built from the commit below them is the same release.
    """
    try:
        head = _git(repo, "rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return None
    try:
        last = _git(repo, "log", "-1", "--format=%H", "HEAD", "--", ".", f":(exclude){SIGNATURE_RECORDS}")
    except (OSError, subprocess.CalledProcessError):
        return head
    return last or head


def uncommitted_changes(repo: Path = Path("."), lock_name: str = str(LOCK_FILE)) -> list[str] | None:
    """Tracked files that differ from the checked-out commit; None outside a git checkout.

    ``dvc.lock`` counts only when an entry of an evidence stage (every stage but the document
    stages) differs from the committed lock.

    Args:
        repo: the repository root.
        lock_name: the lock file's path relative to the root.
    """
    try:
        changed = sorted(set(_git(repo, "diff", "--name-only", "HEAD").splitlines()))
    except (OSError, subprocess.CalledProcessError):
        return None
    if lock_name in changed:
        try:
            committed = _git(repo, "show", f"HEAD:{lock_name}")
        except subprocess.CalledProcessError:
            committed = ""
        working = (Path(repo) / lock_name).read_text() if (Path(repo) / lock_name).is_file() else ""
        if evidence_lock(committed) == evidence_lock(working):
            changed.remove(lock_name)
    return changed


def source_state(repo: Path = Path(".")) -> str:
    """The checked-out commit, with ``-dirty`` when ``uncommitted_changes`` finds any; ``unknown``
    outside a git checkout. Recorded in the test report, so a release can tell whether its tests
    ran on exactly the sources it is built from."""
    commit = head_commit(repo)
    if commit is None:
        return "unknown"
    return commit + ("-dirty" if uncommitted_changes(repo) else "")


def evidence_lock(text: str) -> dict:
    """A ``dvc.lock`` text parsed, without the document stages' entries."""
    lock = load_lock_text(text)
    stages = {k: v for k, v in (lock.get("stages") or {}).items() if k not in DOCUMENT_STAGES}
    return {**lock, "stages": stages}


def evidence_lock_sha256(lock_file: Path = LOCK_FILE) -> str:
    """SHA-256 of ``dvc.lock`` without the document stages, as canonical JSON: what identifies the
    evidence a release was rendered from, unchanged by rendering it again."""
    canonical = json.dumps(evidence_lock(Path(lock_file).read_text()), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    lock = load_lock_text(lock_file.read_text())
    outs: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            outs[_norm(out["path"])] = out.get("md5", "unknown")
    return outs


def load_lock_text(text: str) -> dict:
    """A ``dvc.lock`` text parsed (an empty file: ``{}``), with libyaml's parser where PyYAML has it.

    DVC writes the file, so no hand-written mistakes need the pure-Python loader's messages; the
    40 kB ``dvc.lock`` of a full run took 0.285 s to parse pure-Python and 0.036 s with libyaml
    (equal results), in every stage's MLflow run and again in the document stages.
    """
    return yaml.load(text, Loader=_LOADER) or {}  # noqa: S506 - a safe loader


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _norm(path: str) -> str:
    return str(Path(path)).rstrip("/")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()
