"""Plain rows of the approvals, revocations and SOUP reviews for the site and the technical file.

Nothing here depends on the wall clock or on the release being rendered, so a page built from it
is the same at every render of the same records.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml
from pipeline.governance import paths
from pipeline.governance.approvals import assess_all
from pipeline.governance.registry import load_approvers


def approvals_view(root: Path, manifest_sha256: str | None = None) -> dict:
    """Every approval with its printed name, role, meaning, time, key fingerprint and check result,
    every revocation with its reason, and the policy; never raises for a missing or bad file.

    Args:
        root: the repository root.
        manifest_sha256: when given, each approval says whether it signs this manifest.
    """
    root = Path(root)
    view = {"required_roles": [], "approving_meanings": [], "approvers": [], "approvals": [], "revocations": [], "errors": [],
            "manifest_sha256": manifest_sha256, "policy_file": str(paths.POLICY),
            "approvers_file": str(paths.APPROVERS), "folder": str(paths.APPROVALS)}
    try:
        policy = root / paths.POLICY
        data = (load_yaml(policy, "release policy") or {}) if policy.is_file() else {}
        view["required_roles"] = list(data.get("required_roles") or [])
        view["approving_meanings"] = list(data.get("approving_meanings") or [])
        if not policy.is_file():
            view["errors"].append(f"{paths.POLICY} not found: no role is named to approve a release")
        view["approvers"] = [{"name": a.name, "role": a.role, "fingerprint": a.fingerprint,
                              "revoked": a.revoked} for a in load_approvers(root).approvers]
        assessed, unreadable = assess_all(root)
    except UserError as exc:
        view["errors"].append(str(exc))
        return view
    view["errors"] += unreadable
    for a in assessed:
        p = a.payload
        row = {"id": a.record.id, "signer": p.signer, "role": p.role, "meaning": p.meaning,
               "signed_at": p.signed_at, "fingerprint": p.key_fingerprint, "manifest_sha256": p.manifest_sha256,
               "git_commit": p.git_commit, "signature": "valid" if a.problem is None else f"invalid: {a.problem}",
               "revoked": None,
               "current": None if manifest_sha256 is None else p.manifest_sha256 == manifest_sha256}
        if a.revocation is not None:
            r = a.revocation.payload
            row["revoked"] = {"by": r.signer, "role": r.role, "at": r.signed_at, "reason": r.reason,
                              "fingerprint": r.key_fingerprint}
            view["revocations"].append({"approval": a.record.id, **row["revoked"]})
        elif a.revocation_problem:
            view["errors"].append(f"{a.path}: {a.revocation_problem}")
        row["status"] = ("revoked" if row["revoked"] else "valid" if a.problem is None else "invalid")
        view["approvals"].append(row)
    return view
