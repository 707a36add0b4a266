"""One run at a time per output folder: an exclusive lock on ``<folder>.lock`` beside it.

The lock is taken without waiting (``fcntl.flock``, non-blocking): a second run into the same
folder is refused at once with one message instead of racing the first and leaving only one of
the two outputs. The lock file is removed when the run ends; the kernel releases the lock if
the process dies, so a crashed run never leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from pipeline.core.errors import UserError

_ATTEMPTS = 3  # a lock file removed by a run that just finished is re-created and tried again


def lock_path(folder: Path) -> Path:
    """The lock file of ``folder``: ``<folder>.lock`` in the real folder that holds it (the entry
    a run replaces, however its parents are spelled).

    Args:
        folder: the output folder (need not exist).
    """
    folder = Path(os.path.abspath(folder))
    return Path(os.path.realpath(folder.parent)) / f"{folder.name}.lock"


@contextlib.contextmanager
def hold(folder: Path, role: str = "output folder") -> Iterator[Path]:
    """Hold the lock of ``folder`` for the block; refuse when another run holds it.

    Args:
        folder: the folder about to be replaced.
        role: what the folder is, for the message.
    """
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, folder, role)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _acquire(path: Path, folder: Path, role: str) -> int:
    for _ in range(_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            break
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed this file while we waited for it: take the new one
    raise UserError(f"deid: another deid run is writing the {role} {folder} (lock {path} is held); "
                    "nothing was changed: wait for that run to finish")
