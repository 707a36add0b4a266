"""``.services/env``: the variables a shell or CI sources to use the team services.

MLflow clients read ``MLFLOW_TRACKING_URI`` and the basic-auth login; DVC's S3 remote (through
botocore) reads the AWS key and ``AWS_ENDPOINT_URL_S3``, so ``.dvc/config`` names only the
bucket and every site-specific or secret value stays in this file (mode 0600, git-ignored).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from pipeline.core.atomic import atomic_file
from pipeline.services.credentials import Person
from pipeline.services.layout import REMOTE, ServicesConfig


def variables(config: ServicesConfig, name: str, person: Person) -> dict[str, str]:
    """The environment for ``name``: their MLflow login and their S3 key (DVC bucket only)."""
    return {
        "MLFLOW_TRACKING_URI": config.mlflow_uri,
        "MLFLOW_TRACKING_USERNAME": name,
        "MLFLOW_TRACKING_PASSWORD": person.mlflow_password,
        "AWS_ENDPOINT_URL_S3": config.s3_endpoint,
        "AWS_ACCESS_KEY_ID": person.s3.access_key,
        "AWS_SECRET_ACCESS_KEY": person.s3.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PIPELINE_TEAM_REMOTE": REMOTE,
        "PIPELINE_TEAM_BUCKET": config.dvc_bucket,
    }


def write(path: Path, values: dict[str, str], who: str) -> None:
    """Write ``export`` lines, atomically and private (0600)."""
    lines = [f"# The team services for {who}, written by `make services-up` "
             "(python -m pipeline.services).",
             "# Source it (`. .services/env`); it holds secrets: never commit or share it."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
    with atomic_file(Path(path)) as handle:
        handle.write("\n".join(lines) + "\n")


def read(path: Path) -> dict[str, str]:
    """The variables of an env file written by :func:`write`."""
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0] if value else ""
    return values
