"""SHA-256 hashes of the SOUP components for the SBOM: from the lock file where it carries them,
else a digest of the installed distribution's own RECORD, labelled as such.

A lock made with hashes (``uv pip compile --generate-hashes``, ``pip-compile --generate-hashes``)
pins the SHA-256 of each distribution file a package may be installed from
(``name==1.0 --hash=sha256:...``): the hashes of the files the registry serves, which pip checks
on install with ``--require-hashes``. Those are used as they are (basis ``lock``).

``requirements.lock`` as ``make lock`` writes it today (``pip freeze``) has no hashes. Then the
hash is a digest of what was installed from the locked pin (basis ``installed-record``): SHA-256
over the sorted ``path,sha256=...`` lines of the distribution's ``RECORD``, leaving out what the
installer writes (``INSTALLER``, ``REQUESTED``, ``direct_url.json``, ``RECORD`` itself, compiled
``__pycache__`` files, scripts outside site-packages). The same wheel gives the same digest on
every machine, and anyone can recompute it from the wheel's own ``RECORD``; it is not the hash of
the wheel file, and the SBOM says so for each component.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata as md
import io
import re
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK, RECORD = "lock", "installed-record"
BASIS_TEXT = {
    LOCK: "SHA-256 of the distribution files requirements.lock admits (--hash)",
    RECORD: "SHA-256 over the sorted path,hash lines of the installed distribution's RECORD "
            "(installer-written files excluded); not the wheel file's hash",
}
INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uv_cache.json"}
_HASH = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})")


def lock_hashes(lock: Path) -> dict[str, list[str]]:
    """Canonical name -> the ``--hash=sha256:`` values of its pin (none for a lock without hashes).

    Args:
        lock: a pip requirements lock; backslash-continued lines are joined.
    """
    text = Path(lock).read_text().replace("\\\n", " ")
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0] if not line.lstrip().startswith("--hash") else line
        if "==" not in line:
            continue
        name = line.split("==", 1)[0].strip()
        found = [h.lower() for h in _HASH.findall(line)]
        if found:
            out[canonicalize_name(name)] = sorted(dict.fromkeys(found))
    return out


def record_digest(record_text: str) -> str:
    """The digest of a distribution's RECORD over the files the wheel itself installs.

    Args:
        record_text: the RECORD file's content (CSV: path, hash, size).
    """
    lines = []
    for row in csv.reader(io.StringIO(record_text)):
        if len(row) < 2 or not row[1]:
            continue
        path, digest = row[0], row[1]
        parts = path.split("/")
        if path.startswith("..") or "__pycache__" in parts:
            continue
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALLER_FILES:
            continue
        lines.append(f"{path},{digest}")
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def component_hashes(lock: Path, soup: list[dict]) -> dict[str, dict]:
    """Canonical name -> ``{"basis", "sha256": [...]}`` for every SOUP row that can be hashed.

    Args:
        lock: ``requirements.lock``.
        soup: rows of ``soup.soup_list`` (their pins are the installed versions: it checks).
    """
    pinned = lock_hashes(lock)
    out = {}
    for row in soup:
        key = canonicalize_name(row["name"])
        if key in pinned:
            out[key] = {"basis": LOCK, "sha256": pinned[key]}
            continue
        try:
            record = md.distribution(row["name"]).read_text("RECORD")
        except md.PackageNotFoundError:
            record = None
        if record:
            out[key] = {"basis": RECORD, "sha256": [record_digest(record)]}
    return out
