"""Generated credentials of the services, kept in ``.services/credentials.json`` (mode 0600).

One record per principal: the PostgreSQL superuser and MLflow's database role, MLflow's admin,
the object store's admin (bucket creation) and the MLflow server's own S3 key (its artifact
bucket only), each person (an MLflow user and an S3 key for the DVC bucket), and the JWT keys
that make SeaweedFS's filer and volume ports refuse unsigned reads and writes. Nothing here is
ever written to the repository, DVC, MLflow or a log.
"""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.atomic import write_json


class S3Key(BaseModel):
    model_config = ConfigDict(extra="forbid")
    access_key: str
    secret_key: str


class Person(BaseModel):
    """One team member: an MLflow login and an S3 key for the DVC remote."""

    model_config = ConfigDict(extra="forbid")
    mlflow_password: str
    s3: S3Key


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    postgres_superuser: str = Field(default_factory=lambda: token())
    postgres_mlflow: str = Field(default_factory=lambda: token())
    mlflow_admin: str = Field(default_factory=lambda: token())
    mlflow_flask_secret: str = Field(default_factory=lambda: token(32))
    s3_admin: S3Key = Field(default_factory=lambda: new_s3_key())
    s3_mlflow_server: S3Key = Field(default_factory=lambda: new_s3_key())
    seaweedfs_jwt: dict[str, str] = Field(default_factory=lambda: {
        k: token(32) for k in ("volume_write", "volume_read", "filer_write", "filer_read")})
    people: dict[str, Person] = Field(default_factory=dict)


def load_or_create(path: Path) -> Credentials:
    """The saved credentials, or new random ones saved with mode 0600."""
    if Path(path).is_file():
        return Credentials.model_validate(json.loads(Path(path).read_text()))
    creds = Credentials()
    save(path, creds)
    return creds


def save(path: Path, creds: Credentials) -> None:
    write_json(Path(path), creds.model_dump())  # atomic, private (0600)


def add_person(creds: Credentials, name: str) -> Person:
    """The person's record, created with new secrets when missing."""
    if name not in creds.people:
        creds.people[name] = Person(mlflow_password=token(), s3=new_s3_key())
    return creds.people[name]


def token(nbytes: int = 24) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def new_s3_key() -> S3Key:
    alphabet = string.ascii_uppercase + string.digits
    return S3Key(access_key="".join(secrets.choice(alphabet) for _ in range(20)),
                 secret_key=secrets.token_urlsafe(30))
