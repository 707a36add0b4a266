"""``release verify``: does every required role hold a valid signature over the current release?

One ``Finding`` per missing role, invalid or revoked signature and per released file changed
since it was approved. No finding means releasable as far as approvals go; ``trace check``
includes these findings as its ``approval`` gate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.governance import paths
from pipeline.governance.approvals import approved_manifest, assess_all
from pipeline.governance.registry import load_policy
from pipeline.governance.release_files import current_files, drift, manifest_files

MAX_FILES = 20  # files named per stale approval; the rest are counted


@dataclass(frozen=True)
class Finding:
    """One reason the release is not approved: ``missing`` | ``invalid`` | ``revoked`` | ``stale``."""

    kind: str
    subject: str  # a role, an approval record or a released file
    message: str

    def line(self) -> str:
        """The one-line form ``release verify`` prints."""
        return f"{self.kind}: {self.subject}: {self.message}"


def verify_release(root: Path) -> list[Finding]:
    """Every finding against the current ``release/manifest.json``; empty when approved.

    Args:
        root: the repository root.
    """
    root = Path(root)
    try:
        policy = load_policy(root)
        assessed, unreadable = assess_all(root)
    except UserError as exc:
        return [Finding("invalid", str(paths.GOVERNANCE), " ".join(str(exc).split("\n  ")))]
    out = [Finding("invalid", "record", why) for why in unreadable]
    manifest_rel, release_rel = paths.manifest(root), paths.release(root)
    manifest_path = root / manifest_rel
    if not manifest_path.is_file():
        if policy.required_roles:
            out.append(Finding("missing", str(manifest_rel), "not found: render the release "
                               "(make techfile), then approve it"))
        return out
    current_sha = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    files = current_files(root)
    over_current = [a for a in assessed if a.payload.manifest_sha256 == current_sha]
    for a in over_current:
        if a.problem is not None:
            out.append(Finding("invalid", a.path, a.problem))
        if a.revocation_problem is not None:
            out.append(Finding("invalid", a.path, a.revocation_problem))
    if over_current:  # the manifest is the approved one: the files must still be what it lists
        approvers = ", ".join(sorted({f"{a.payload.signer} ({a.payload.role})" for a in over_current if a.counts}))
        out += _stale(manifest_files(approved_manifest(root, over_current[0]), release_rel), files, release_rel,
                      f"changed since it was approved by {approvers or 'nobody valid'}")
    for role in policy.required_roles:
        if any(a.counts and a.payload.role == role and policy.approves(a.payload.meaning) for a in over_current):
            continue
        for a in over_current:
            if a.counts and a.payload.role == role:
                out.append(Finding("invalid", a.path, f"signed with meaning {a.payload.meaning!r}, which does not "
                                   f"approve a release (approving meanings: {', '.join(policy.approving_meanings)})"))
        for a in over_current:
            if a.payload.role == role and a.revocation is not None:
                r = a.revocation.payload
                out.append(Finding("revoked", a.path, f"revoked by {r.signer} ({r.role}) at "
                                   f"{r.signed_at}: {r.reason}"))
        earlier = [a for a in assessed if a.counts and a.payload.role == role and a not in over_current
                   and policy.approves(a.payload.meaning)]
        if earlier:
            last = earlier[-1]
            out += _stale(manifest_files(approved_manifest(root, last), release_rel), files, release_rel,
                          f"changed since {last.payload.signer} ({role}) approved manifest "
                          f"{last.payload.manifest_sha256[:12]} at {last.payload.signed_at}")
        out.append(Finding("missing", f"role {role}", f"no valid signature over the current "
                           f"{manifest_rel} (sha256 {current_sha[:12]}): run `python -m pipeline "
                           f"release approve --role {role} ...`"))
    return out


def approval_summary(root: Path) -> dict:
    """The current manifest's hash and the approvals over it, per role (for the CLI's last line)."""
    manifest = Path(root) / paths.manifest(root)
    sha = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None
    assessed, _ = assess_all(root)
    return {"manifest_sha256": sha,
            "approved_by": sorted(f"{a.payload.signer} ({a.payload.role})" for a in assessed
                                  if a.counts and a.payload.manifest_sha256 == sha)}


def _stale(approved: dict[str, str], current: dict[str, str], release: Path, why: str) -> list[Finding]:
    changes = drift(approved, current)
    out = [Finding("stale", c.path, f"{c.line().removeprefix(c.path + ' ')}: {why}")
           for c in changes[:MAX_FILES]]
    if len(changes) > MAX_FILES:
        out.append(Finding("stale", str(release), f"{len(changes) - MAX_FILES} more released "
                           f"file(s) differ: {why}"))
    return out


