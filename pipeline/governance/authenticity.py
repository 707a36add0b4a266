"""``release verify-files``: what the recipient of a release checks before using it.

The chain is signature -> manifest -> files: each approval record signs the SHA-256 of
``manifest.json``, and the manifest lists the SHA-256 of every released file. A recipient holds
the approvers' public keys and the release policy from a source apart from the release (the
repository at the signed release tag, or the quality unit), and checks a copy of the release
folder against them: every file is listed with its hash (none missing, added or changed), and
every required role signed exactly this manifest with a trusted key. The manifest does not list
itself (its hash is what is signed), and the pages that show the signatures
(``governance.paths.UNSIGNED_PAGES``) are outside it by design: they are reported as not covered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.core.provenance import file_sha256
from pipeline.governance.approvals import Assessed, assess_records
from pipeline.governance.manifest import parse_manifest
from pipeline.governance.paths import UNSIGNED_PAGES
from pipeline.governance.registry import Approvers, Policy
from pipeline.governance.verify import Finding

MANIFEST_NAME = "manifest.json"  # the manifest's name inside a release folder
MAX_FILES = 50  # file findings named; the rest are counted


@dataclass(frozen=True)
class CopyReport:
    """What checking one release folder found; ``findings`` empty means authentic and complete."""

    findings: list[Finding]
    manifest_sha256: str
    files: int  # files the manifest lists
    signed_by: list[str] = field(default_factory=list)  # "Name (role)" per required role
    unsigned: list[str] = field(default_factory=list)  # present, outside the manifest by design


def verify_copy(release: Path, approvals: Path, approvers: Approvers, policy: Policy,
                keys_name: str) -> CopyReport:
    """Check a release folder against its manifest and the signatures against trusted keys.

    Args:
        release: the release folder (holds ``manifest.json``, ``models/``, ...).
        approvals: the folder of approval records shipped with the release
            (``governance/approvals`` of the repository at the release tag).
        approvers: the trusted keys (``registry.load_trusted``).
        policy: the trusted release policy (the roles that must have signed).
        keys_name: how messages name the trusted keys file.
    """
    release, approvals = Path(release), Path(approvals)
    manifest_path = _manifest_path(release)
    if not approvals.is_dir():
        raise UserError(f"approvals folder {approvals} not found (give the approval records shipped "
                        "with the release: governance/approvals of the repository at the release tag)")
    if not policy.required_roles:
        raise UserError("the release policy names no required_roles: no signature would be needed, "
                        "so nothing would be authenticated")
    content = manifest_path.read_bytes()
    sha = hashlib.sha256(content).hexdigest()
    findings, unsigned, listed = _file_findings(release, manifest_path, content)
    assessed, unreadable = assess_records(approvals, approvers, approvals.parent, keys_name, copies=False)
    findings += [Finding("invalid", "record", why) for why in unreadable]
    signed_by, sig_findings = _signature_findings(assessed, policy, sha, keys_name)
    return CopyReport(findings + sig_findings, sha, listed, signed_by, unsigned)


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder`` (a trust anchor must not come with what it checks)."""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def _manifest_path(release: Path) -> Path:
    if not release.is_dir():
        raise UserError(f"release folder {release} not found")
    manifest = release / MANIFEST_NAME
    if not manifest.is_file():
        raise UserError(f"{release} is not a release folder: it holds no {MANIFEST_NAME} (give the folder "
                        "with manifest.json, models/, techfile/ and trace/)")
    return manifest


def _file_findings(release: Path, manifest_path: Path, content: bytes) -> tuple[list[Finding], list[str], int]:
    try:
        manifest = parse_manifest(content, manifest_path)
    except UserError as exc:
        return [Finding("invalid", MANIFEST_NAME, str(exc))], [], 0
    listed = {f.path: f.sha256 for f in manifest.files}
    present = {p.relative_to(release).as_posix(): p for p in sorted(release.rglob("*"))
               if p.is_file() and p != manifest_path}
    unsigned = [rel for rel in present if rel in UNSIGNED_PAGES and rel not in listed]
    out = []
    for rel in sorted(set(listed) | set(present)):
        if rel in unsigned:
            continue
        if rel not in present:
            out.append(Finding("missing", rel, f"listed in {MANIFEST_NAME} but not in the release folder"))
        elif rel not in listed:
            out.append(Finding("added", rel, f"not listed in {MANIFEST_NAME}: not part of the signed release"))
        elif (actual := file_sha256(present[rel])) != listed[rel]:
            out.append(Finding("changed", rel, f"sha256 {actual[:12]} differs from {listed[rel][:12]} in "
                               f"{MANIFEST_NAME}: the file is not the released one"))
    if len(out) > MAX_FILES:
        out = out[:MAX_FILES] + [Finding("changed", str(release), f"{len(out) - MAX_FILES} more file(s) "
                                         "missing, added or changed")]
    return out, unsigned, len(listed)


def _signature_findings(assessed: list[Assessed], policy: Policy, sha: str,
                        keys_name: str) -> tuple[list[str], list[Finding]]:
    over = [a for a in assessed if a.payload.manifest_sha256 == sha]
    out = [Finding("invalid", a.path, a.problem) for a in over if a.problem is not None]
    out += [Finding("invalid", a.path, a.revocation_problem) for a in over if a.revocation_problem]
    signed_by = []
    for role in policy.required_roles:
        good = [a for a in over if a.counts and a.payload.role == role and policy.approves(a.payload.meaning)]
        if good:
            signed_by.append(f"{good[-1].payload.signer} ({role})")
            continue
        out += [Finding("revoked", a.path, f"revoked by {a.revocation.payload.signer}: "
                        f"{a.revocation.payload.reason}")
                for a in over if a.payload.role == role and a.revocation is not None]
        out += [Finding("invalid", a.path, f"meaning {a.payload.meaning!r} does not approve a release")
                for a in over if a.counts and a.payload.role == role]
        out.append(Finding("unsigned", f"role {role}", _missing(role, sha, assessed, keys_name)))
    return signed_by, out


def _missing(role: str, sha: str, assessed: list[Assessed], keys_name: str) -> str:
    text = f"no valid signature by a key in {keys_name} over {MANIFEST_NAME} (sha256 {sha[:12]})"
    others = sorted({a.payload.manifest_sha256[:12] for a in assessed
                     if a.payload.role == role and a.payload.manifest_sha256 != sha})
    if others:
        text += (f"; the approvals given for {role} sign another manifest ({', '.join(others)}): "
                 f"{MANIFEST_NAME} was changed after signing, or they belong to another release")
    return text
