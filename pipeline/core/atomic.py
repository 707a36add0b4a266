"""Atomic stage outputs: write to a temporary sibling, then rename into place.

An interrupted stage therefore never leaves a folder or file that looks finished.

File modes: temporary siblings are created private (0600 files, 0700 folders), and an output
keeps those modes unless it is written with ``shared=True``. Everything under ``release/`` is
written shared (``SHARED_FILE_MODE`` 0644, ``SHARED_DIR_MODE`` 0755: readable by the people who
review the release, writable only by its owner), set on the temporary sibling before the
rename, so the output never appears with other modes. Identified data (the raw cohort, the
de-identification quarantine) and keys are never written shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


SHARED_FILE_MODE = 0o644
SHARED_DIR_MODE = 0o755


@contextlib.contextmanager
def atomic_dir(final: Path, shared: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``final`` when the block succeeds.

    Args:
        final: the folder the stage promises to produce.
        shared: give the folder and everything in it the shared modes (release outputs).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if shared:
        share_tree(tmp)
    _swap_into_place(tmp, final)


@contextlib.contextmanager
def atomic_file(final: Path, mode: str = "w", shared: bool = False) -> Iterator[Any]:
    """Open a temporary sibling of ``final`` for writing; rename it over ``final`` on success
    (with ``SHARED_FILE_MODE`` when ``shared``)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    os.close(fd)
    try:
        with open(name, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    if shared:
        os.chmod(name, SHARED_FILE_MODE)
    os.replace(name, final)


def write_json(path: Path, data: Any, shared: bool = False) -> None:
    """Write ``data`` as stable, sorted, indented JSON, atomically."""
    with atomic_file(path, shared=shared) as handle:
        handle.write(dumps_json(data))


def dumps_json(data: Any) -> str:
    """Serialise ``data`` the same way every time (sorted keys, trailing newline)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def share_tree(root: Path) -> None:
    """Give ``root`` and every folder and file under it the shared modes (symlinks untouched)."""
    root = Path(root)
    os.chmod(root, SHARED_DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), SHARED_DIR_MODE)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), SHARED_FILE_MODE)


def _swap_into_place(tmp: Path, final: Path) -> None:
    if final.exists() or final.is_symlink():
        trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, trash / final.name)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, final)
