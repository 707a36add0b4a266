"""The use log file: locked, interrupt-safe appends of chained records, and reading it back.

Appends take an exclusive ``flock`` on the log itself, read the last record's hash, and write
the new line with one ``write`` while SIGINT and SIGTERM are held back, so concurrent ``predict``
processes never interleave or fork the chain and Ctrl-C never leaves half a line; a write cut
short another way (a full disk) is truncated back before the error is raised. ``flock`` is local
to one machine: keep the log on a local file system, not a network share.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

from pipeline.core.errors import UserError
from pipeline.monitoring import chain

ENV = "PIPELINE_USE_LOG"
NAME = "use_log.jsonl"
TAIL_CHUNK = 65536


def default_path(environ: dict[str, str]) -> Path:
    """Where the use log goes when no path is given: ``$PIPELINE_USE_LOG``, else
    ``$XDG_STATE_HOME/pipeline/use_log.jsonl`` (``~/.local/state/...``): outside any release folder,
    kept across model versions.

    Args:
        environ: the environment (``os.environ``).
    """
    if environ.get(ENV):
        return Path(environ[ENV]).expanduser()
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local" / "state")
    return Path(state).expanduser() / "pipeline" / NAME


def check_appendable(path: Path) -> None:
    """Refuse, before any work, a log that cannot take a record: a folder, an unwritable file,
    or one whose last line was cut off (``monitor verify`` names it)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"use log {path} is a folder: give a file (--use-log or ${ENV})")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UserError(f"use log {path} is not writable")
        with open(path, "rb") as handle:
            _last_line(handle)
    elif not _creatable(path.parent):
        raise UserError(f"use log {path} cannot be created: {path.parent} is not a writable folder")


def append(path: Path, body: dict, check: Callable[[list[dict]], None] | None = None) -> dict:
    """Seal ``body`` after the log's last record and append it; returns the sealed record.

    Args:
        path: the log (created with its folder, mode 0600, when missing).
        body: the record's content.
        check: called with every record of the (verified) log before appending, under the lock;
            it raises ``UserError`` to refuse (a review of an unknown use). Without it only the
            last record is read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+b") as handle, _locked(handle):
        if check is not None:
            records = _verified(handle, path)
            check(records)
            prev, seq = (records[-1]["hash"], records[-1]["seq"]) if records else (chain.GENESIS, 0)
        else:
            prev, seq = _tail(handle, path)
        record = chain.seal(body, prev, seq + 1)
        _write_whole(handle, chain.line(record))
    return record


def read(path: Path) -> list[dict]:
    """Every record of a log whose chain is intact; a ``UserError`` names the first broken line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"use log {path} not found")
    with open(path, "rb") as handle:
        return _verified(handle, path)


def check_chain(path: Path) -> chain.ChainCheck:
    """``chain.verify`` of the whole file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"use log {path} not found")
    with open(path, "rb") as handle:
        return chain.verify(handle.readlines())


def _verified(handle, path: Path) -> list[dict]:
    handle.seek(0)
    lines = handle.readlines()
    result = chain.verify(lines)
    if not result.ok:
        raise UserError(f"use log {path}: line {result.broken_line}: {result.reason} "
                        f"(`python -m pipeline monitor verify --use-log {path}`)")
    return [json.loads(raw) for raw in lines]


def _tail(handle, path: Path) -> tuple[str, int]:
    """The last record's hash and seq (``GENESIS``, 0 for an empty log), its own hash checked."""
    raw = _last_line(handle, path)
    if raw is None:
        return chain.GENESIS, 0
    try:
        record = json.loads(raw)
        ok = isinstance(record, dict) and chain.record_hash(record) == record.get("hash")
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok or not isinstance(record.get("seq"), int):
        raise UserError(f"use log {path}: the last record is not a sealed record (edited?): "
                        f"run `python -m pipeline monitor verify --use-log {path}`")
    return record["hash"], record["seq"]


def _last_line(handle, path: Path | None = None) -> bytes | None:
    """The file's last line; ``UserError`` when it lacks its newline (a cut-off write)."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return None
    handle.seek(size - 1)
    if handle.read(1) != b"\n":
        raise UserError(f"use log {path or handle.name} ends with an incomplete record (a write was cut off): "
                        f"run `python -m pipeline monitor verify`, keep a copy, and remove the incomplete "
                        "last line before logging again")
    start = size - 1
    while start > 0:
        step = min(TAIL_CHUNK, start)
        handle.seek(start - step)
        chunk = handle.read(step)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            start = start - step + cut + 1
            break
        start -= step
    handle.seek(start)
    return handle.read(size - start)


def _write_whole(handle, data: bytes) -> None:
    """Write ``data`` at the end in full, or not at all (truncate back on any failure)."""
    fd = handle.fileno()
    start = os.lseek(fd, 0, os.SEEK_END)
    with _signals_held():
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, start)
            raise


@contextlib.contextmanager
def _locked(handle) -> Iterator[None]:
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (delivered after the block) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _creatable(folder: Path) -> bool:
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
