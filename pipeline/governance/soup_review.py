"""``soup review NAME``: a SOUP item's known-anomaly review as a signed, versioned decision.

Each review is ``governance/soup_reviews/<id>.json``: the package, the locked version reviewed,
the outcome, the reviewer (a registered approver), the UTC time and the OpenSSH signature. The
latest valid review of a package decides its state: ``done`` for the version it reviewed, ``open``
again as soon as ``requirements.lock`` pins another version.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.governance import paths
from pipeline.governance.approvals import check_signature, sign_record
from pipeline.governance.records import SoupReviewPayload, read_record, record_id, utc_now, write_record
from pipeline.governance.registry import load_approvers

LOCK = Path("requirements.lock")


def record_review(root: Path, name: str, outcome: str, signer: str, key: Path, role: str | None = None,
                  now: datetime | None = None) -> Path:
    """Sign and write one review of the locked version of ``name``; returns the record's path.

    Args:
        root: the repository root.
        name: the package as pinned in ``requirements.lock``.
        outcome: what the review of the known anomalies found and decided.
        signer: the reviewer's registered name.
        key: the reviewer's private key file.
        role: the role the reviewer signs in (needed only when registered in several).
        now: the time (tests).
    """
    root = Path(root)
    pins = locked_versions(root / LOCK)
    package = canonical(name)
    if package not in pins:
        raise UserError(f"{name!r} is not pinned in {LOCK} (a SOUP item is reviewed for its locked version)")
    approvers = load_approvers(root)
    mine = [a for a in approvers.approvers if a.name == signer and (role is None or a.role == role)]
    if not mine:
        where = f" with role {role!r}" if role else ""
        raise UserError(f"{signer!r} is not registered{where} in {paths.APPROVERS}")
    if len(mine) > 1:
        roles = ", ".join(a.role for a in mine)
        raise UserError(f"{signer} is registered in several roles ({roles}): name one with --role")
    approver = mine[0]
    if approver.revoked:
        raise UserError(f"the key of {signer} ({approver.role}) is revoked in {paths.APPROVERS}: "
                        f"{approver.revoked}")
    payload = SoupReviewPayload(signer=signer, role=approver.role, key_fingerprint=approver.fingerprint,
                                signed_at=utc_now(now), package=package, version=pins[package], outcome=outcome)
    record = sign_record(payload, Path(key), approver, record_id(payload.signed_at, package, pins[package]))
    folder = root / paths.SOUP_REVIEWS
    folder.mkdir(parents=True, exist_ok=True)
    return write_record(folder, record)


def review_states(root: Path, pins: dict[str, str]) -> dict[str, dict]:
    """Per reviewed package (canonical name): the latest valid review and whether it is ``done``
    for the locked version or ``open`` again; invalid records are listed under ``problems``.

    Args:
        root: the repository root.
        pins: canonical name -> locked version.
    """
    folder = Path(root) / paths.SOUP_REVIEWS
    if not folder.is_dir():
        return {}
    approvers = load_approvers(root)
    latest: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            record = read_record(path)
        except UserError:
            continue
        p = record.payload
        if not isinstance(p, SoupReviewPayload):
            continue
        problem = check_signature(record, approvers)
        entry = {"package": p.package, "reviewed_version": p.version, "outcome": p.outcome, "signer": p.signer,
                 "role": p.role, "signed_at": p.signed_at, "fingerprint": p.key_fingerprint,
                 "record": path.name, "problem": problem}
        if problem is None and (p.package not in latest or latest[p.package]["signed_at"] <= p.signed_at):
            latest[p.package] = entry
    for package, entry in latest.items():
        locked = pins.get(package)
        entry["locked_version"] = locked
        entry["state"] = "done" if locked == entry["reviewed_version"] else "open"
        entry["note"] = (f"{entry['outcome']} (reviewed for {entry['reviewed_version']} by {entry['signer']}, "
                         f"{entry['role']}, {entry['signed_at']}, key {entry['fingerprint']})")
        if entry["state"] == "open":
            entry["note"] = (f"open again: {paths.SOUP_REVIEWS}/{entry['record']} reviewed version "
                             f"{entry['reviewed_version']}, {LOCK} now pins {locked or 'none'}")
    return latest


def locked_versions(lock: Path) -> dict[str, str]:
    """Canonical name -> version of every pin in a pip lock file."""
    return {canonical(name): version for name, version in read_pins(lock).items()}


def read_pins(lock: Path) -> dict[str, str]:
    """Name (as written) -> version of every ``name==version`` line of a pip lock file."""
    if not Path(lock).is_file():
        raise UserError(f"missing input: {lock} (the locked SOUP environment) not found")
    pins = {}
    for line in Path(lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def canonical(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()
