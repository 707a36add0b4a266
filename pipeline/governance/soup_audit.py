"""``soup audit``: every locked SOUP version checked against published vulnerabilities (pure core).

The source is PyPI's JSON API, whose ``vulnerabilities`` list per release comes from OSV (the
Open Source Vulnerabilities database: PyPA advisories, GitHub advisories, CVEs). The release
endpoint (``/pypi/NAME/VERSION/json``) is asked first; where it is not served, the project endpoint
(``/pypi/NAME/json``) answers for its latest release only, so a locked version that is not the
latest is recorded as not covered, with that reason, never as clean. Items outside PyPI (Debian's
packages) are listed as not covered in ``governance/soup_vulnerabilities.yaml``.

The record, ``governance/soup_audit.json`` (tracked, written atomically): the date, the source,
the lock file's SHA-256, each package with its status and finding IDs, and each finding with its
aliases, summary, fixed versions and link. The fetch function is injected, so tests never touch
the network. Why our own code and not pip-audit: pip-audit asks only the release endpoint and
stops at the first package it cannot resolve; what we need is a record of what was and was not
covered, joined with the evaluations (``soup_evaluations``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Literal

from pydantic import Field

from pipeline.core.params_base import StrictModel
from pipeline.governance.soup_review import canonical

AUDIT = Path("governance") / "soup_audit.json"
SOURCE = "PyPI JSON API (https://pypi.org/pypi/NAME/VERSION/json), vulnerability data from OSV"


class Finding(StrictModel):
    """One published vulnerability of one locked package version."""

    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    id: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    summary: str = ""
    fixed_in: list[str] = Field(default_factory=list)
    link: str = ""
    withdrawn: str | None = None


class PackageResult(StrictModel):
    """What the audit could say about one locked package."""

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    status: Literal["checked", "not covered"]
    basis: str = Field(min_length=1, description="the endpoint that answered, or why none did")
    findings: list[str] = Field(default_factory=list)


class SoupAudit(StrictModel):
    """``governance/soup_audit.json``."""

    audit_version: Literal[1] = 1
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    time: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    source: str = Field(min_length=1)
    lock_file: str
    lock_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    packages: list[PackageResult]
    findings: list[Finding]

    def pins(self) -> dict[str, str]:
        """Canonical name -> version the audit checked (or tried to)."""
        return {canonical(p.name): p.version for p in self.packages}


@dataclass(frozen=True)
class Lookup:
    """A fetch function's answer for one package version."""

    covered: bool
    basis: str
    vulnerabilities: list[dict] = field(default_factory=list)


Fetch = Callable[[str, str], Lookup]


def audit(pins: dict[str, str], fetch: Fetch, lock_file: str, lock_sha256: str,
          now: datetime | None = None, workers: int = 8) -> SoupAudit:
    """Check every pin with ``fetch`` and build the record.

    Args:
        pins: name (as locked) -> version, from ``requirements.lock``.
        fetch: ``(name, version) -> Lookup`` (``pypi.fetch`` in use, a recorded fixture in tests);
            a network failure raises, so an incomplete audit is never written.
        lock_file, lock_sha256: the lock file audited and its SHA-256.
        now: the audit's time (tests).
        workers: parallel fetches.
    """
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    names = sorted(pins, key=canonical)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        lookups = list(pool.map(lambda name: fetch(name, pins[name]), names))
    packages, findings = [], []
    for name, lookup in zip(names, lookups):
        found = [_finding(name, pins[name], v) for v in lookup.vulnerabilities] if lookup.covered else []
        findings += found
        packages.append(PackageResult(name=name, version=pins[name],
                                      status="checked" if lookup.covered else "not covered",
                                      basis=lookup.basis, findings=[f.id for f in found]))
    return SoupAudit(date=moment.strftime("%Y-%m-%d"), time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     source=SOURCE, lock_file=lock_file, lock_sha256=lock_sha256, packages=packages,
                     findings=findings)


def _finding(name: str, version: str, raw: dict) -> Finding:
    return Finding(package=name, version=version, id=str(raw.get("id") or "unknown"),
                   aliases=[str(a) for a in raw.get("aliases") or []],
                   summary=str(raw.get("summary") or raw.get("details") or "")[:500],
                   fixed_in=[str(v) for v in raw.get("fixed_in") or []], link=str(raw.get("link") or ""),
                   withdrawn=str(raw["withdrawn"]) if raw.get("withdrawn") else None)
