"""Where the services keep their state, and the settings fixed on the first ``up``.

Everything lives under one folder (``.services/`` in the repository, git-ignored): each
service's data, logs and pid file, the generated credentials (``credentials.json``, mode 0600)
and ``config.json`` with the ports chosen on the first start, so that a restart finds the same
addresses and the same data.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from pathlib import Path

from pydantic import Field

from pipeline.core.atomic import write_json
from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel

HOST = "127.0.0.1"
DVC_BUCKET = "pipeline-dvc"
MLFLOW_BUCKET = "pipeline-mlflow"
REMOTE = "team"
EXPERIMENT = "pipeline"  # the experiment every stage logs to (pipeline.core.tracking)

# Preferred ports (used when free on the first start; otherwise the system picks one).
DEFAULT_PORTS = {"postgres": 15432, "mlflow": 15000, "s3": 18333, "s3_grpc": 28333,
                 "master": 19333, "master_grpc": 29333, "volume": 19340, "volume_grpc": 29340,
                 "filer": 18888, "filer_grpc": 28888}

_USER = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")


class Ports(StrictModel):
    """The loopback ports of every service (SeaweedFS needs an HTTP and a gRPC port per part)."""

    postgres: int = Field(ge=1024, le=65535)
    mlflow: int = Field(ge=1024, le=65535)
    s3: int = Field(ge=1024, le=65535)
    s3_grpc: int = Field(ge=1024, le=65535)
    master: int = Field(ge=1024, le=65535)
    master_grpc: int = Field(ge=1024, le=65535)
    volume: int = Field(ge=1024, le=65535)
    volume_grpc: int = Field(ge=1024, le=65535)
    filer: int = Field(ge=1024, le=65535)
    filer_grpc: int = Field(ge=1024, le=65535)


class ServicesConfig(StrictModel):
    """What the first ``up`` fixed: addresses, bucket names and the person the env file is for."""

    host: str = HOST
    ports: Ports
    dvc_bucket: str = DVC_BUCKET
    mlflow_bucket: str = MLFLOW_BUCKET
    person: str

    @property
    def mlflow_uri(self) -> str:
        return f"http://{self.host}:{self.ports.mlflow}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.s3}"


class Layout:
    """The paths under the state folder."""

    def __init__(self, root: Path):
        self.root = Path(root).absolute()

    config = property(lambda self: self.root / "config.json")
    credentials = property(lambda self: self.root / "credentials.json")
    env = property(lambda self: self.root / "env")
    users = property(lambda self: self.root / "users")
    logs = property(lambda self: self.root / "logs")
    postgres = property(lambda self: self.root / "postgres")
    seaweedfs = property(lambda self: self.root / "seaweedfs")
    mlflow = property(lambda self: self.root / "mlflow")

    def pidfile(self, service: str) -> Path:
        return self.root / "run" / f"{service}.pid"

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def prepare(self) -> None:
        """Create the folders; the root stays traversable (0711) for PostgreSQL's own user."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)
        for folder in (self.logs, self.root / "run", self.seaweedfs, self.mlflow, self.users):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, 0o700)


def load_or_create(layout: Layout, person: str | None = None) -> ServicesConfig:
    """The saved config, or a new one with free ports, saved for the next start.

    Args:
        layout: the state folder.
        person: the user the env file is written for (default: the login name); a different
            name on a later start is refused (add people with ``user add``).
    """
    if layout.config.is_file():
        try:
            config = ServicesConfig.model_validate(json.loads(layout.config.read_text()))
        except ValueError as exc:
            raise UserError(f"{layout.config} is not a valid services config ({exc}); "
                            "remove it to choose new ports") from None
        if person and person != config.person:
            raise UserError(f"{layout.root} was set up for {config.person!r}; add {person!r} with "
                            f"`python -m pipeline.services user add {person}`")
        return config
    person = check_user_name(person or default_person())
    config = ServicesConfig(ports=Ports(**choose_ports(DEFAULT_PORTS)), person=person)
    write_json(layout.config, config.model_dump())
    return config


def default_person() -> str:
    """The login name, made a valid user name (``root`` on CI machines)."""
    name = re.sub(r"[^a-z0-9_.-]", "", (os.environ.get("USER") or getpass.getuser()).lower())
    return name if _USER.match(name or "") else "developer"


def check_user_name(name: str) -> str:
    """A user name for MLflow and the object store: 2-32 of a-z, 0-9, ``_ . -``, from a letter."""
    if not _USER.match(name) or name in ("admin", "mlflow-server"):
        raise UserError(f"user name {name!r} is not allowed: use 2-32 characters a-z, 0-9, _ . - "
                        "starting with a letter, other than admin and mlflow-server")
    return name


def choose_ports(preferred: dict[str, int]) -> dict[str, int]:
    """Each preferred port if nothing listens on it, else a free one the system assigns."""
    chosen: dict[str, int] = {}
    for name, port in preferred.items():
        if not port_free(port) or port in chosen.values():
            port = _free_port(set(chosen.values()))
        chosen[name] = port
    return chosen


def port_free(port: int, host: str = HOST) -> bool:
    """Whether ``port`` can be bound on ``host`` now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(taken: set[int]) -> int:
    # SeaweedFS also opens unix sockets named after its ports: stay below 55535 so that
    # nothing derived from a port (port + 10000) overflows.
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in taken and port < 55535:
            return port
    raise UserError("no free loopback port found")
