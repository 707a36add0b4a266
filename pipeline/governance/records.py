"""Signed records: what an approval, a revocation and a SOUP review say, and how they are stored.

Each record is one JSON file holding its ``payload`` and the OpenSSH ``signature`` over the
payload's canonical JSON (sorted keys, no spaces, UTF-8). The payload names the signer, role,
UTC time and the fingerprint of the key that signed it, so the record reads on its own.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipeline.core.atomic import dumps_json, atomic_file
from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel

SHA256 = r"^[0-9a-f]{64}$"
UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
NAMESPACES = {"release-approval": "pipeline-release-approval",
              "approval-revocation": "pipeline-approval-revocation",
              "soup-review": "pipeline-soup-review"}


class _Signed(StrictModel):
    signer: str = Field(min_length=2)
    role: str = Field(min_length=2)
    key_fingerprint: str = Field(pattern=r"^SHA256:[A-Za-z0-9+/]{43}$")
    signed_at: str = Field(pattern=UTC)


class ApprovalPayload(_Signed):
    """An electronic signature over one rendered release (the SHA-256 of its manifest)."""

    kind: Literal["release-approval"] = "release-approval"
    manifest_sha256: str = Field(pattern=SHA256)
    git_commit: str = Field(min_length=1)
    meaning: str = Field(min_length=3, max_length=300)


class RevocationPayload(_Signed):
    """The withdrawal of one approval, with the reason."""

    kind: Literal["approval-revocation"] = "approval-revocation"
    approval: str = Field(min_length=1)
    approval_sha256: str = Field(pattern=SHA256, description="SHA-256 of the revoked record file")
    reason: str = Field(min_length=3, max_length=500)


class SoupReviewPayload(_Signed):
    """The recorded outcome of one SOUP item's known-anomaly review for one version."""

    kind: Literal["soup-review"] = "soup-review"
    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    outcome: str = Field(min_length=3, max_length=1000)


class Record(StrictModel):
    """A payload and its armored OpenSSH signature."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    payload: ApprovalPayload | RevocationPayload | SoupReviewPayload = Field(discriminator="kind")
    signature: str = Field(min_length=40)


def canonical(payload: StrictModel) -> bytes:
    """The exact bytes a signature covers."""
    return json.dumps(payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def namespace(payload: StrictModel) -> str:
    """The OpenSSH signature namespace of a payload's kind (a signature of one kind is never
    valid as another)."""
    return NAMESPACES[payload.kind]


def utc_now(now: datetime | None = None) -> str:
    """``2026-11-26T07:01:02Z`` (UTC, whole seconds)."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(signed_at: str, *parts: str) -> str:
    """A file-name-safe, time-ordered record ID: ``20261126T070102Z-quality-jane-doe``."""
    stamp = signed_at.replace("-", "").replace(":", "")
    slug = "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)
    return f"{stamp}-{slug}"


def write_record(folder: Path, record: Record, suffix: str = ".json") -> Path:
    """Write a record atomically as ``folder/<id><suffix>``; never overwrites one."""
    path = Path(folder) / f"{record.id}{suffix}"
    if path.exists():
        raise UserError(f"{path} exists already: a signed record is never overwritten")
    with atomic_file(path) as handle:
        handle.write(dumps_json(record.model_dump(mode="json")))
    return path


def read_record(path: Path) -> Record:
    """One record file; ``UserError`` naming it when it is not a valid record."""
    try:
        return Record.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not readable JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise UserError(f"{path} is not a valid signed record: "
                        f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
