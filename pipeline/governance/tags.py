"""``release tag`` and ``release verify-tag``: the release commit signed by an approver, with git.

``release tag NAME --key KEY`` runs ``git tag -s`` with git's SSH signing (``gpg.format=ssh``,
``user.signingkey=KEY``) on the checked-out commit; the tag message names the release commit and
the SHA-256 of the manifest, so the signature binds commit, approval records and manifest. The
check runs ``git verify-tag`` with ``gpg.ssh.allowedSignersFile`` generated from a trusted
approvers file: a tag signed by any other key is refused. Git does the cryptography.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.core.provenance import SIGNATURE_RECORDS, head_commit
from pipeline.governance import paths
from pipeline.governance.manifest import parse_manifest
from pipeline.governance.registry import Approvers, load_approvers

MANIFEST_FIELD, COMMIT_FIELD = "manifest-sha256", "release-commit"
STATES = ("good", "missing", "unsigned", "bad")


@dataclass(frozen=True)
class TagCheck:
    """What ``git verify-tag`` says about one tag, and what its signed message names."""

    tag: str
    state: str  # one of STATES
    detail: str
    signer: str | None = None  # the allowed-signers principal ("jane-doe/quality_assurance")
    release_commit: str | None = None  # the tagged commit, approval-only commits skipped
    manifest_sha256: str | None = None  # named by the signed message

    def problems(self, manifest_sha256: str | None = None, git_commit: str | None = None) -> list[str]:
        """Why the tag does not authenticate the release (empty when it does).

        Args:
            manifest_sha256: the SHA-256 of the release's manifest, when a release is checked.
            git_commit: the manifest's ``git_commit``.
        """
        if self.state != "good":
            return [f"tag {self.tag}: {self.state}: {self.detail}"]
        out = []
        if manifest_sha256 and self.manifest_sha256 != manifest_sha256:
            out.append(f"tag {self.tag}: names manifest sha256 {(self.manifest_sha256 or 'none')[:12]}, "
                       f"the release's manifest is {manifest_sha256[:12]}")
        if git_commit and self.release_commit != git_commit:
            out.append(f"tag {self.tag}: tags release commit {(self.release_commit or 'none')[:12]}, "
                       f"the manifest was rendered from {git_commit[:12]}")
        return out


def allowed_signers(approvers: Approvers) -> str:
    """git's ``gpg.ssh.allowedSignersFile`` text: one line per unrevoked approver key, for the
    ``git`` namespace only.

    Args:
        approvers: the trusted approvers.
    """
    lines = [f'{principal(a.name, a.role)} namespaces="git" {" ".join(a.public_key.split()[:2])}'
             for a in approvers.approvers if not a.revoked]
    return "".join(line + "\n" for line in lines)


def principal(name: str, role: str) -> str:
    """The allowed-signers principal of an approver: ``jane-doe/quality_assurance``."""
    return f"{re.sub(r'[^a-z0-9._-]+', '-', name.lower()).strip('-')}/{role}"


def tag_message(name: str, manifest_sha256: str, release_commit: str) -> str:
    """The signed tag's message: the release's identity, one field per line."""
    return (f"Release {name}\n\n{COMMIT_FIELD}: {release_commit}\n"
            f"{MANIFEST_FIELD}: {manifest_sha256}\n")


def tag_release(root: Path, name: str, key: Path) -> TagCheck:
    """Sign tag ``name`` on the checked-out commit of the release in ``root``.

    Refuses a missing or draft manifest and a checkout whose release commit is not the one the
    manifest was rendered from.

    Args:
        root: the repository root.
        name: the tag name (e.g. ``v1.2.0``).
        key: the signer's private key file.
    """
    root = Path(root)
    manifest_rel = paths.manifest(root)
    if not (root / manifest_rel).is_file():
        raise UserError(f"{manifest_rel} not found: render the release (make techfile) before tagging it")
    content = (root / manifest_rel).read_bytes()
    manifest = parse_manifest(content, root / manifest_rel)
    if manifest.draft:
        raise UserError(f"{manifest_rel} is a draft: commit, re-render with make techfile, then tag")
    here = head_commit(root)
    if here != manifest.git_commit:
        raise UserError(f"the checked-out release commit {(here or 'none')[:12]} is not the commit "
                        f"{manifest.git_commit[:12]} that {manifest_rel} was rendered from: check it out "
                        "(commits that only add approval records may follow it) or re-render")
    return sign_tag(root, name, key, load_approvers(root), hashlib.sha256(content).hexdigest(),
                    manifest.git_commit)


def sign_tag(repo: Path, name: str, key: Path, approvers: Approvers, manifest_sha256: str,
             release_commit: str) -> TagCheck:
    """``git tag -s NAME`` on HEAD with an SSH key, checked against ``approvers`` at once: a tag
    that does not verify (the key is not a trusted approver's) is deleted again.

    Args:
        repo: the git repository.
        name: the tag name.
        key: the private key file (or its ``.pub`` with the key in ssh-agent).
        approvers: the registered approvers.
        manifest_sha256: the SHA-256 of the release manifest the tag names.
        release_commit: the manifest's ``git_commit``.
    """
    key = Path(key)
    if not key.is_file():
        raise UserError(f"signing key {key} not found (give the private key file, as for git's user.signingkey)")
    _git(repo, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key.resolve()}", "tag", "-s", name,
         "-m", tag_message(name, manifest_sha256, release_commit), "HEAD")
    check = check_tag(repo, name, approvers)
    if check.state != "good":
        _git(repo, "tag", "-d", name)
        raise UserError(f"the new tag {name} does not verify against governance/approvers.yaml "
                        f"({check.detail}); it was deleted: sign with your registered key")
    return check


def check_tag(repo: Path, name: str, approvers: Approvers) -> TagCheck:
    """The state of tag ``name``: ``missing``, ``unsigned`` (lightweight, or annotated without a
    signature), ``bad`` (a signature git does not accept from any trusted key) or ``good``.

    Args:
        repo: the git repository.
        name: the tag name.
        approvers: the trusted approvers (their unrevoked keys may sign).
    """
    if _git(repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UserError(f"{repo} is not a git repository (give the clone of the release's repository)")
    kind = _git(repo, "cat-file", "-t", f"refs/tags/{name}", check=False)
    if kind.returncode != 0:
        return TagCheck(name, "missing", f"no tag {name} in {repo}")
    if kind.stdout.strip() != "tag":
        return TagCheck(name, "unsigned", f"a lightweight tag (of a {kind.stdout.strip()}): no signature")
    body = _git(repo, "cat-file", "tag", f"refs/tags/{name}").stdout
    if "-----BEGIN" not in body:
        return TagCheck(name, "unsigned", "an annotated tag without a signature (create it with git tag -s)")
    with tempfile.TemporaryDirectory(prefix="allowed-signers-") as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(allowed_signers(approvers))
        done = _git(repo, "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", name, check=False)
    said = (done.stderr + done.stdout).strip()
    if done.returncode != 0:
        last = said.splitlines()[-1] if said else "git verify-tag failed"
        return TagCheck(name, "bad", f"the signature is not by a trusted key ({last})")
    found = re.search(r'Good "git" signature for (\S+)', said)
    fields = dict(re.findall(rf"^({MANIFEST_FIELD}|{COMMIT_FIELD}): ([0-9a-f]+)$", body, re.MULTILINE))
    commit = _git(repo, "log", "-1", "--format=%H", f"refs/tags/{name}^{{commit}}", "--", ".",
                  f":(exclude){SIGNATURE_RECORDS}").stdout.strip()
    return TagCheck(name, "good", f"signed by {found.group(1) if found else 'a trusted key'}",
                    found.group(1) if found else None, commit or None, fields.get(MANIFEST_FIELD))


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        raise UserError("git is needed to sign and verify release tags: install git (2.34 or later)")
    if not Path(repo).is_dir():
        raise UserError(f"repository {repo} not found")
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"git failed in {repo}: {why[-1] if why else 'no output'}")
    return done
