"""Do the files in the workspace still hold what ``dvc.lock`` recorded? (``trace check``'s eyes).

A metrics file edited by hand (a Dice of 0.89 made 0.99), a forged V&V evidence image or a
changed de-identified file would otherwise be rendered into a release as recorded evidence.
Each output a stage recorded in ``dvc.lock`` is hashed the way DVC 3 hashes it (``hash: md5``:
the MD5 of a file's bytes; a folder's is the MD5 of the JSON list of its files' ``md5`` and
``relpath``, sorted by path, plus ``.dir``, without what ``.dvcignore`` excludes, matched
with ``pathspec`` as DVC does) and compared with the lock. Written here rather than
called through DVC because the trace and techfile stages run inside ``dvc repro``, which holds the
repository lock that DVC's API would wait for.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pathspec

CHUNK = 1 << 20


@dataclass(frozen=True)
class Changed:
    """A recorded output whose workspace content differs from its ``dvc.lock`` hash."""

    stage: str
    path: str
    recorded: str
    now: str | None  # None: the file or folder is missing


def dvc_md5(path: Path, ignore: pathspec.PathSpec | None = None) -> str:
    """DVC 3's ``md5`` of a file or folder (see the module docstring).

    Args:
        path: the file or folder.
        ignore: the repository's ``.dvcignore`` patterns, matched against paths below ``path``.
    """
    path = Path(path)
    if path.is_file():
        return _file_md5(path)
    entries = []
    for folder, dirs, files in os.walk(path):
        rel = Path(folder).relative_to(path)
        dirs[:] = sorted(d for d in dirs if not (ignore and ignore.match_file((rel / d).as_posix() + "/")))
        for name in files:
            file = Path(folder) / name
            if ignore and ignore.match_file((rel / name).as_posix()):
                continue
            entries.append({"md5": _file_md5(file), "relpath": file.relative_to(path).as_posix()})
    entries.sort(key=lambda entry: entry["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + ".dir"


def changed_outputs(root: Path, recorded: dict[str, dict[str, str]]) -> list[Changed]:
    """Every recorded output that is missing or differs from its recorded hash.

    Args:
        root: the repository root the paths are relative to.
        recorded: stage name -> {output path: md5 recorded in ``dvc.lock``}.
    """
    ignore_file = Path(root) / ".dvcignore"
    ignore = (pathspec.GitIgnoreSpec.from_lines(ignore_file.read_text().splitlines())
              if ignore_file.is_file() else None)
    out = []
    for stage, outputs in recorded.items():
        for rel, md5 in sorted(outputs.items()):
            path = Path(root) / rel
            if not path.exists():
                out.append(Changed(stage, rel, md5, None))
                continue
            now = dvc_md5(path, ignore)
            if now != md5:
                out.append(Changed(stage, rel, md5, now))
    return out


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
