"""Who may approve and which roles must: ``governance/approvers.yaml`` and ``policy.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_yaml
from pipeline.governance import paths, sshsig

ROLE = r"^[a-z][a-z0-9_-]{1,39}$"


class Approver(StrictModel):
    """A person who may sign, in one role, with one OpenSSH public key."""

    name: str = Field(min_length=2, max_length=80)
    role: str = Field(pattern=ROLE)
    public_key: str = Field(min_length=1)
    email: str = ""
    revoked: str = Field("", description="why this key may no longer sign (its approvals lapse)")

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        try:
            sshsig.parse_public_key(value)
        except UserError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @property
    def fingerprint(self) -> str:
        """The key's ``SHA256:`` fingerprint."""
        return sshsig.fingerprint(self.public_key)


class Approvers(StrictModel):
    """The ``approvers.yaml`` file."""

    approvers: list[Approver] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self):
        seen = set()
        for entry in self.approvers:
            if (entry.name, entry.role) in seen:
                raise ValueError(f"{entry.name} is listed twice with role {entry.role}")
            seen.add((entry.name, entry.role))
        return self

    def find(self, name: str, role: str) -> Approver | None:
        """The entry registering ``name`` in ``role``, if any."""
        return next((a for a in self.approvers if a.name == name and a.role == role), None)


class Policy(StrictModel):
    """The ``policy.yaml`` file: which roles must approve before a release is releasable."""

    required_roles: list[str] = Field(default_factory=list)
    meanings: list[str] = Field(default_factory=list, description="allowed meanings; empty: any text")
    approving_meanings: list[str] = Field(default_factory=list,
                                          description="meanings that approve a release; empty: every meaning")
    blocking_open_items: list[Literal["manufacturer input", "gap"]] = Field(
        default_factory=list, description="kinds of open items (regulatory/open_items.yaml) a release may not carry")
    soup_audit_max_age_days: int = Field(
        30, ge=1, le=365, description="how old the SOUP vulnerability audit (soup audit) may be in trace check")

    @model_validator(mode="after")
    def _approving_are_allowed(self):
        unknown = [m for m in self.approving_meanings if self.meanings and m not in self.meanings]
        if unknown:
            raise ValueError(f"approving_meanings {unknown} are not among the meanings {self.meanings}")
        return self

    def approves(self, meaning: str) -> bool:
        """Whether a signature with this meaning approves the release (not only records a review)."""
        return not self.approving_meanings or meaning in self.approving_meanings

    @field_validator("required_roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        import re

        bad = [r for r in roles if not re.match(ROLE, str(r))]
        if bad or len(set(roles)) != len(roles):
            raise ValueError(f"roles must be unique lower-case names matching {ROLE}: {roles}")
        return roles


def load_approvers(root: Path) -> Approvers:
    """``governance/approvers.yaml`` validated; a missing file registers nobody.

    Args:
        root: the repository root.
    """
    path = Path(root) / paths.APPROVERS
    data = load_yaml(path, "approvers file") if path.is_file() else {}
    return _validate(Approvers, data or {}, path)


def load_policy(root: Path) -> Policy:
    """``governance/policy.yaml`` validated; ``UserError`` when it is missing.

    Args:
        root: the repository root.
    """
    path = Path(root) / paths.POLICY
    if not path.is_file():
        raise UserError(f"{paths.POLICY} not found: it names the roles that must approve a release "
                        "(required_roles: [...])")
    return _validate(Policy, load_yaml(path, "release policy") or {}, path)


def load_trusted(keys: Path, policy: Path) -> tuple[Approvers, Policy]:
    """A recipient's trusted keys and release policy: files in the formats of
    ``governance/approvers.yaml`` and ``policy.yaml``, obtained apart from the release.

    Args:
        keys: the trusted approvers file (names, roles, OpenSSH public keys).
        policy: the release policy (the roles that must have signed).
    """
    approvers = load_trusted_keys(keys)
    return approvers, _validate(Policy, _read(policy, "release policy file", paths.POLICY) or {}, Path(policy))


def load_trusted_keys(keys: Path) -> Approvers:
    """A trusted approvers file (format of ``governance/approvers.yaml``) holding at least one
    unrevoked key.

    Args:
        keys: the file.
    """
    approvers = _validate(Approvers, _read(keys, "trusted keys file", paths.APPROVERS) or {}, Path(keys))
    if all(a.revoked for a in approvers.approvers):
        raise UserError(f"trusted keys file {keys} holds no unrevoked key (expected approvers: "
                        f"[{{name, role, public_key}}], as in {paths.APPROVERS})")
    return approvers


def _read(path: Path, what: str, like: Path):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {path} not found or not a file (give a copy of {like} obtained "
                        "apart from the release)")
    try:
        return load_yaml(path, what)
    except PermissionError:
        raise UserError(f"{what} {path} is not readable (permission denied)") from None


def _validate(model, data, path: Path):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '<file>'}: {e['msg']}"
                 for e in exc.errors(include_url=False)]
        raise UserError(f"{path} is not valid:\n  " + "\n  ".join(lines)) from None
