"""Where a run reads and writes, checked before anything on disk changes.

A run replaces its output folder, its quarantine folder and its report as a whole, so a wrong
path would delete data: the input itself (output equal to, inside or around the input), or a
folder of someone's files. Every check here only reads, and each problem is one ``UserError``
naming the path and what to do instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.deid import marker

_REPORT_KEYS = {"files_in", "written", "quarantined", "leak_check"}
_REPORT_MAX_BYTES = 10_000_000
UNCHANGED = "nothing was changed"


def check_source(source: Path) -> None:
    """The input must be an existing folder.

    Args:
        source: the input folder.
    """
    if not source.exists():
        raise UserError(f"deid: input folder {source} does not exist")
    if not source.is_dir():
        raise UserError(f"deid: input {source} is not a folder")


def check_apart(source: Path, places: dict[str, Path]) -> None:
    """No place a run replaces may be, lie inside, or contain the input or another such place.

    Args:
        source: the input folder.
        places: role (``"output folder"``, ...) -> path the run replaces.
    """
    src = _real(source)
    for role, path in places.items():
        real = _real(path)
        if real == src:
            relation = "is the input folder (replacing it would delete the input)"
        elif src in real.parents:
            relation = f"lies inside the input folder {source} (the input would change)"
        elif real in src.parents:
            relation = f"contains the input folder {source} (replacing it would delete the input)"
        else:
            continue
        raise UserError(f"deid: the {role} {path} {relation}; {UNCHANGED}: choose a place outside the input")
    items = list(places.items())
    for number, (role, path) in enumerate(items):
        for other_role, other in items[number + 1:]:
            first, second = _real(path), _real(other)
            if first == second or first in second.parents or second in first.parents:
                raise UserError(f"deid: the {role} {path} and the {other_role} {other} overlap; "
                                f"{UNCHANGED}: give them separate places")


def check_writable(places: dict[str, Path]) -> None:
    """Each place can be created or replaced: its nearest existing parent is a writable folder.

    Args:
        places: role -> path the run replaces.
    """
    for role, path in places.items():
        path = Path(path)
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"deid: the {role} {path} is read-only, so it cannot be replaced; {UNCHANGED}")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise UserError(f"deid: cannot create the {role} {path}: {parent} is a file, not a folder; {UNCHANGED}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"deid: cannot create the {role} {path}: the folder {parent} is read-only; {UNCHANGED}")


def check_previous(output: Path, quarantine: Path, report: Path | None) -> None:
    """Refuse to replace anything but a previous output of the standalone command.

    Args:
        output: the output folder: new, empty, or marked by an earlier run.
        quarantine: the quarantine folder: the same.
        report: the report file: new or an earlier deid report.
    """
    for role, kind, folder in (("output folder", "output", output), ("quarantine folder", "quarantine", quarantine)):
        found = _foreign(Path(folder), kind)
        if found:
            raise UserError(f"deid: the {role} {folder} {found}; {UNCHANGED}: choose a new or empty folder, "
                            "or pass --replace to replace it")
    if report is not None and (Path(report).exists() or Path(report).is_symlink()) and not _is_report(Path(report)):
        raise UserError(f"deid: the report {report} exists and is not a deid report; {UNCHANGED}: "
                        "choose another --report, or pass --replace to replace it")


def _foreign(folder: Path, kind: str) -> str | None:
    """What is at ``folder`` if it is not new, empty or a previous ``kind`` folder; else None."""
    if not folder.exists() and not folder.is_symlink():
        return None
    if not folder.is_dir():
        return "exists and is not a folder"
    if next(folder.iterdir(), None) is None or marker.is_marked(folder, kind):
        return None
    return f"holds something no earlier deid run wrote (no {marker.NAME} in it)"


def _is_report(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size > _REPORT_MAX_BYTES:
            return False
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and _REPORT_KEYS <= set(data)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))
