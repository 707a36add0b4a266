"""Background processes with pid files, and waiting until a service answers.

A pid file is trusted only while the process it names is alive and its command line still
mentions the state folder, so a pid reused by another program is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from pipeline.core.errors import UserError


def start(argv: list[str], pidfile: Path, log: Path, cwd: Path, env: dict[str, str]) -> int:
    """Start ``argv`` in its own session (so that ``stop`` ends its whole group); write its pid.

    Args:
        argv: the command.
        pidfile: where its pid is written.
        log: stdout and stderr, appended.
        cwd: its working folder.
        env: its whole environment.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def running(pidfile: Path, marker: str) -> int | None:
    """The pid in ``pidfile`` when that process is alive and its command line holds ``marker``."""
    try:
        pid = int(Path(pidfile).read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    if marker not in cmdline or _zombie(pid):
        return None
    return pid


def stop(pidfile: Path, marker: str, timeout: float = 20.0) -> bool:
    """SIGTERM the process group of the pid file's process, SIGKILL after ``timeout``.

    Returns whether a process was running.
    """
    pid = running(pidfile, marker)
    if pid is None:
        Path(pidfile).unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(pidfile, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running(pidfile, marker):
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.5)
    Path(pidfile).unlink(missing_ok=True)
    return True


def wait_until(check: Callable[[], bool], what: str, timeout: float, log: Path | None = None,
               alive: Callable[[], bool] | None = None) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` (and the log's tail) on time-out or
    when ``alive`` says the process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not answering yet: any client error means "try again"
            pass
        if alive is not None and not alive():
            raise UserError(f"{what} exited while starting{_tail(log)}")
        time.sleep(0.3)
    raise UserError(f"{what} did not answer within {timeout:.0f} s{_tail(log)}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not Path(log).is_file():
        return ""
    text = Path(log).read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)
