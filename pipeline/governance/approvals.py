"""``release approve`` and ``release revoke``: signing the rendered release, and withdrawing it.

An approval record ``governance/approvals/<id>.json`` signs the SHA-256 of
``release/manifest.json`` together with signer, role, meaning, UTC time and key fingerprint;
``<id>.manifest.json`` beside it is the exact approved manifest (its hash is the signed one), so
the approved file list can be compared with the files later. A revocation
``<id>.revocation.json`` names the approval, the SHA-256 of its record file and the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.governance import paths, sshsig
from pipeline.governance.records import (
    ApprovalPayload, Record, RevocationPayload, canonical, namespace, read_record, record_id, utc_now,
    write_record,
)
from pipeline.governance.registry import Approver, load_approvers, load_policy
from pipeline.governance.manifest import Manifest, parse_manifest
from pipeline.governance.release_files import current_files, manifest_files

MANIFEST_COPY = ".manifest.json"
REVOCATION = ".revocation.json"


@dataclass(frozen=True)
class Assessed:
    """One approval record and what checking it found."""

    record: Record
    path: str
    problem: str | None  # None: a good signature by a registered, unrevoked key
    revocation: Record | None = None
    revocation_problem: str | None = None

    @property
    def payload(self) -> ApprovalPayload:
        """The signed approval."""
        return self.record.payload  # type: ignore[return-value]

    @property
    def counts(self) -> bool:
        """A valid approval that no valid revocation withdrew."""
        return self.problem is None and self.revocation is None


def approve(root: Path, key: Path, signer: str, role: str, meaning: str,
            now: datetime | None = None) -> Path:
    """Sign the current ``release/manifest.json``; returns the record's path.

    Refuses a draft release, a release whose files no longer match its manifest, an unregistered
    signer or role, a revoked key and a key that is not the signer's registered one.

    Args:
        root: the repository root.
        key: the signer's private key file (or ``.pub`` with the key in ssh-agent).
        signer: the approver's name as registered in ``governance/approvers.yaml``.
        role: the role the approver signs in.
        meaning: what the signature means (e.g. "approved for release").
        now: the signing time (tests); the UTC wall clock by default.
    """
    root = Path(root)
    approver = _registered(root, signer, role)
    policy = load_policy(root)
    if policy.meanings and meaning not in policy.meanings:
        raise UserError(f"meaning {meaning!r} is not one of {paths.POLICY}'s meanings: "
                        + "; ".join(policy.meanings))
    manifest_rel = paths.manifest(root)
    manifest_path = root / manifest_rel
    if not manifest_path.is_file():
        raise UserError(f"{manifest_rel} not found: render the release (make techfile) before approving it")
    content = manifest_path.read_bytes()
    manifest = parse_manifest(content, manifest_path)
    if manifest.draft:
        raise UserError(f"{manifest_rel} is a draft (rendered from uncommitted changes: "
                        f"{', '.join(manifest.uncommitted_changes)}): commit, re-render "
                        "with make techfile, then approve")
    drift = _drift(manifest_files(manifest, paths.release(root)), current_files(root))
    if drift:
        raise UserError(f"the release files no longer match {manifest_rel}: {'; '.join(drift[:5])}"
                        + (f" and {len(drift) - 5} more" if len(drift) > 5 else "")
                        + "; re-render (make techfile) before approving")
    payload = ApprovalPayload(signer=signer, role=role, meaning=meaning, signed_at=utc_now(now),
                              key_fingerprint=approver.fingerprint,
                              manifest_sha256=hashlib.sha256(content).hexdigest(),
                              git_commit=manifest.git_commit)
    record = sign_record(payload, key, approver, record_id(payload.signed_at, role, signer))
    folder = root / paths.APPROVALS
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"{record.id}{MANIFEST_COPY}"
    if copy.exists():
        raise UserError(f"{copy} exists already: sign again in a second")
    copy.write_bytes(content)
    try:
        return write_record(folder, record)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise


def revoke(root: Path, approval: str, key: Path, signer: str, role: str, reason: str,
           now: datetime | None = None) -> Path:
    """Withdraw an approval with a reason, signed by a registered approver; returns its path.

    Args:
        root: the repository root.
        approval: the approval's ID (its file name without ``.json``).
        key: the revoker's private key file.
        signer: the revoker's registered name.
        role: the revoker's registered role.
        reason: why the approval is withdrawn.
        now: the time (tests).
    """
    root = Path(root)
    approver = _registered(root, signer, role)
    folder = root / paths.APPROVALS
    target = folder / f"{approval}.json"
    if not target.is_file():
        known = sorted(p.stem for p in _approval_files(folder))
        raise UserError(f"no approval {approval!r} in {paths.APPROVALS} (known: {', '.join(known) or 'none'})")
    if (folder / f"{approval}{REVOCATION}").exists():
        raise UserError(f"approval {approval} is already revoked")
    payload = RevocationPayload(signer=signer, role=role, reason=reason, signed_at=utc_now(now),
                                key_fingerprint=approver.fingerprint, approval=approval,
                                approval_sha256=hashlib.sha256(target.read_bytes()).hexdigest())
    return write_record(folder, sign_record(payload, key, approver, approval), REVOCATION)


def assess_all(root: Path) -> tuple[list[Assessed], list[str]]:
    """Every approval record checked against ``governance/approvers.yaml``, oldest first, and one
    message per record file that cannot be read at all.

    Args:
        root: the repository root.
    """
    root = Path(root)
    return assess_records(root / paths.APPROVALS, load_approvers(root), root)


def assess_records(folder: Path, approvers, base: Path, keys_name: str = str(paths.APPROVERS),
                   copies: bool = True) -> tuple[list[Assessed], list[str]]:
    """The approval records in ``folder`` checked against ``approvers``, oldest first, and one
    message per record file that cannot be read at all.

    Args:
        folder: the folder of approval records (``governance/approvals`` or a shipped copy).
        approvers: the trusted keys (``registry.Approvers``).
        base: paths in messages are relative to it (when below it).
        keys_name: how messages name the trusted keys file.
        copies: whether each approval must have its manifest copy beside it (a recipient checks
            the shipped manifest itself instead).
    """
    folder = Path(folder)
    out, unreadable = [], []
    for path in _approval_files(folder):
        rel = _relative(path, Path(base))
        try:
            record = read_record(path)
        except UserError as exc:
            unreadable.append(str(exc))
            continue
        if not isinstance(record.payload, ApprovalPayload) or record.id != path.stem:
            unreadable.append(f"{rel} is not an approval record (kind {record.payload.kind}, id {record.id})")
            continue
        problem = check_signature(record, approvers, keys_name)
        copy = folder / f"{record.id}{MANIFEST_COPY}"
        if problem is None and copies:
            if not copy.is_file():
                problem = f"the approved manifest {copy.name} is missing"
            elif hashlib.sha256(copy.read_bytes()).hexdigest() != record.payload.manifest_sha256:
                problem = f"the approved manifest {copy.name} was altered (its SHA-256 is not the signed one)"
        revocation, why = _revocation(folder, record, path, approvers, keys_name)
        out.append(Assessed(record, rel, problem, revocation, why))
    out.sort(key=lambda a: (a.payload.signed_at, a.record.id))
    return out, unreadable


def approved_manifest(root: Path, approval: Assessed) -> Manifest:
    """The manifest an approval signed (its stored copy)."""
    copy = Path(root) / paths.APPROVALS / f"{approval.record.id}{MANIFEST_COPY}"
    return parse_manifest(copy.read_bytes(), copy)


def check_signature(record: Record, approvers, keys_name: str = str(paths.APPROVERS)) -> str | None:
    """``None`` when the record is signed by the registered, unrevoked key of its signer and
    role; otherwise the reason it does not count.

    Args:
        record: an approval, revocation or SOUP review record.
        approvers: ``registry.load_approvers`` (or a trusted keys file a recipient holds).
        keys_name: how messages name the keys file.
    """
    p = record.payload
    entry = approvers.find(p.signer, p.role)
    if entry is None:
        return f"{p.signer} is not registered with role {p.role} in {keys_name}"
    if entry.revoked:
        return f"the key of {p.signer} ({p.role}) was revoked: {entry.revoked}"
    if entry.fingerprint != p.key_fingerprint:
        return (f"signed with key {p.key_fingerprint}, but the registered key of {p.signer} is "
                f"{entry.fingerprint}")
    why = sshsig.verify(canonical(p), record.signature, entry.public_key, namespace(p))
    return None if why is None else f"{why}: the record was altered or not signed by {p.signer}'s key"


def _registered(root: Path, signer: str, role: str) -> Approver:
    approvers = load_approvers(root)
    entry = approvers.find(signer, role)
    if entry is None:
        known = ", ".join(f"{a.name} ({a.role})" for a in approvers.approvers) or "nobody"
        raise UserError(f"{signer!r} is not registered with role {role!r} in {paths.APPROVERS} "
                        f"(registered: {known})")
    if entry.revoked:
        raise UserError(f"the key of {signer} ({role}) is revoked in {paths.APPROVERS}: {entry.revoked}")
    return entry


def sign_record(payload, key: Path, approver: Approver, rid: str) -> Record:
    """A record of ``payload`` signed with ``key``, which must be ``approver``'s registered key.

    Args:
        payload: an approval, revocation or SOUP review payload.
        key: the private key file.
        approver: the registered approver signing.
        rid: the record's ID.
    """
    signature = sshsig.sign(canonical(payload), Path(key), namespace(payload))
    used = sshsig.fingerprint(sshsig.signature_public_key(signature))
    if used != approver.fingerprint:
        raise UserError(f"{key} is key {used}, not the key registered for {approver.name} "
                        f"({approver.role}) in {paths.APPROVERS}: {approver.fingerprint}")
    record = Record(id=rid, payload=payload, signature=signature)
    why = sshsig.verify(canonical(payload), signature, approver.public_key, namespace(payload))
    if why is not None:
        raise UserError(f"the new signature does not verify against the registered key: {why}")
    return record


def _revocation(folder: Path, record: Record, path: Path, approvers,
                keys_name: str) -> tuple[Record | None, str | None]:
    file = folder / f"{record.id}{REVOCATION}"
    if not file.is_file():
        return None, None
    try:
        revocation = read_record(file)
    except UserError as exc:
        return None, str(exc)
    p = revocation.payload
    if not isinstance(p, RevocationPayload) or p.approval != record.id:
        return None, f"{file.name} does not revoke {record.id}"
    if p.approval_sha256 != hashlib.sha256(path.read_bytes()).hexdigest():
        return None, f"{file.name} revokes another version of {path.name}"
    why = check_signature(revocation, approvers, keys_name)
    return (revocation, None) if why is None else (None, f"revocation {file.name} does not count: {why}")


def _approval_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json")
                  if not p.name.endswith((MANIFEST_COPY, REVOCATION)) and not p.name.startswith("."))


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _drift(approved: dict[str, str], current: dict[str, str]) -> list[str]:
    from pipeline.governance.release_files import drift

    return [d.line() for d in drift(approved, current)]
