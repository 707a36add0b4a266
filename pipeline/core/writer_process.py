"""The run writer process (``pipeline.core.run_writer``) as the stage process sees it.

``WriterProcess`` starts it (a fresh interpreter: ``sys.executable -P -m``, with this package first
on ``PYTHONPATH``), writes the protocol's lines to its stdin, forwards its stderr and reads the run
ID and ``done`` from its stdout. A writer that stopped is a ``RunWriterError`` at the next message,
naming the tracking URI and quoting the writer's last output. ``InProcessWriter`` has the same
interface and writes the run in the stage process (``PIPELINE_MLFLOW_INPROCESS=1``, see
``pipeline.core.tracking``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WRITER_MODULE = "pipeline.core.run_writer"
DONE = "done"  # the writer's last line on stdout: the run is recorded (pipeline.core.run_writer.DONE)
WAIT_S = 300  # how long a finished stage waits for its writer (artifacts and models still to copy)
STDERR_TAIL = 40  # pieces of the writer's stderr (lines, mostly) quoted when it fails
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this ``pipeline`` package


class RunWriterError(RuntimeError):
    """The run writer stopped before the run was recorded (the store refused, or it crashed)."""


class WriterProcess:
    """The run writer process, seen from the stage: started at once, fed one line per message.

    Its stderr is forwarded to the stage's as it comes (MLflow's messages show where they showed
    before, and a full pipe would stall the writer) and its tail kept for errors. The forwarding
    thread reaps the writer when it exits and touches only raw file descriptors and the process, so
    a stage that forks workers meanwhile forks no lock its workers could need.
    """

    def __init__(self, store: dict[str, Any]) -> None:
        """Start the writer and send it the store (message 1 of the protocol)."""
        self.uri = store["tracking_uri"]
        self.opened = self.done = False
        self._tail: collections.deque[bytes] = collections.deque(maxlen=STDERR_TAIL)
        self._out, self._out_closed = b"", False
        # -P and PYTHONPATH: the writer runs this package's code, not another checkout's that the
        # working folder or an editable install would put first.
        path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen([sys.executable, "-P", "-m", WRITER_MODULE, str(os.getpid())],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      bufsize=0, env={**os.environ, "PYTHONPATH": path})
        self._drain = threading.Thread(target=_forward, args=(self._proc, self._tail),
                                       name="run-writer-stderr", daemon=True)
        self._drain.start()
        self.send(store)

    def __enter__(self) -> WriterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            self.abandon()

    def open(self, run: dict[str, Any]) -> None:
        """Send the run (message 2 of the protocol)."""
        self.send(run)
        self.opened = True

    def send(self, message: dict[str, Any]) -> None:
        """One message; a writer that has stopped is a ``RunWriterError`` here, at the call."""
        if self._proc.poll() is not None:
            raise self._failure()
        data = (json.dumps(message) + "\n").encode("ascii")
        try:
            while data:
                data = data[os.write(self._proc.stdin.fileno(), data):]
        except BrokenPipeError:
            raise self._failure() from None

    def finish(self, status: str, end_time: int) -> str:
        """End the run (message 4); wait until the writer says the run is recorded (``done``, not
        its exit: see the protocol); the run ID."""
        self.send({"op": "end", "status": status, "end_time": end_time})
        self.done = True
        self._proc.stdin.close()
        if not self._read_stdout(WAIT_S):
            self._proc.kill()
            raise self._failure(f"did not finish within {WAIT_S} s and was stopped")
        lines = self._out.decode("ascii", "replace").split()
        if lines[1:] != [DONE]:
            raise self._failure()
        return lines[0]

    def abandon(self) -> None:
        """No run after all (the stage ended before it opened one): the writer is told and exits
        by itself once its store is open; nothing waits for it (Ctrl-C must not)."""
        self.done = True
        with contextlib.suppress(OSError):
            if not self.opened:
                os.write(self._proc.stdin.fileno(), b'{"op": "close"}\n')
        with contextlib.suppress(OSError):
            self._proc.stdin.close()

    def _read_stdout(self, seconds: float) -> bool:
        """Read the writer's stdout until it closes it; False if it has not within ``seconds``."""
        fd, deadline = self._proc.stdout.fileno(), time.monotonic() + seconds
        while not self._out_closed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            chunk = os.read(fd, 1 << 12)
            self._out += chunk
            self._out_closed = not chunk
        return True

    def _failure(self, what: str | None = None) -> RunWriterError:
        self.done = True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)  # it has stopped, or is stopping: its last words
        self._drain.join(timeout=5)
        self._read_stdout(1)
        run_id = next(iter(self._out.decode("ascii", "replace").split()), "")
        what = what or f"stopped (exit code {self._proc.returncode})"
        tail = b"".join(self._tail).decode("utf-8", "replace").strip()[-4000:]
        return RunWriterError(f"the MLflow run writer {what} recording to {self.uri}"
                              f"{f' (run {run_id})' if run_id else ''}; its last output:\n{tail or '(none)'}")


def _forward(proc: subprocess.Popen, tail: collections.deque) -> None:
    """Copy the writer's stderr to ours, keeping its tail; reap the writer once it closes it."""
    fd = proc.stderr.fileno()
    while chunk := os.read(fd, 1 << 16):
        tail.extend(chunk.splitlines(keepends=True))
        with contextlib.suppress(OSError):
            os.write(2, chunk)
    proc.wait()


class InProcessWriter:
    """``WriterProcess``'s interface, the run written here and now (``PIPELINE_MLFLOW_INPROCESS=1``):
    each message goes through JSON as it would to the child, so both record the same."""

    def __init__(self, store: dict[str, Any]) -> None:
        from pipeline.core.run_writer import Writer

        self.uri = store["tracking_uri"]
        self.opened = self.done = False
        self._writer = Writer(self._wire(store))

    def __enter__(self) -> InProcessWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done = True

    def open(self, run: dict[str, Any]) -> None:
        self._writer.open(self._wire(run))
        self.opened = True

    def send(self, message: dict[str, Any]) -> None:
        self._writer.apply(self._wire(message))

    def finish(self, status: str, end_time: int) -> str:
        self.done = True
        self._writer.end(status, end_time)
        return self._writer.run_id

    def abandon(self) -> None:
        self.done = True

    @staticmethod
    def _wire(message: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(message))
