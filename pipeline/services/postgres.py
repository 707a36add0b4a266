"""PostgreSQL (Debian's ``postgresql`` package): a private cluster for MLflow's stores.

The cluster lives in ``.services/postgres/data``, listens on 127.0.0.1 only (no unix socket),
and asks every client for a SCRAM password. It holds two databases owned by the ``mlflow``
role: ``mlflow`` (experiments, runs, metrics) and ``mlflow_auth`` (MLflow's users and
permissions). PostgreSQL refuses to run as root, so under root its programs run as the
``postgres`` user that the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.services.credentials import Credentials
from pipeline.services.layout import Layout, ServicesConfig
from pipeline.services.process import wait_until

SUPERUSER = "postgres"
ROLE = "mlflow"
DATABASES = ("mlflow", "mlflow_auth")
INSTALL_HINT = ("install Debian's postgresql package (make services-deps, or apt-get install -y "
                "postgresql)")


def bindir() -> Path:
    """The folder of ``initdb``/``pg_ctl``: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not versions:
        raise UserError(f"PostgreSQL is not installed: {INSTALL_HINT}")
    return Path(versions[-1]).parent


def database_uri(config: ServicesConfig, creds: Credentials, database: str) -> str:
    return (f"postgresql+psycopg://{ROLE}:{creds.postgres_mlflow}@{config.host}:"
            f"{config.ports.postgres}/{database}")


def data_dir(layout: Layout) -> Path:
    return layout.postgres / "data"


def log_file(layout: Layout) -> Path:
    """The server log, in the cluster's own folder (written by the ``postgres`` user)."""
    return layout.postgres / "postgres.log"


def is_running(layout: Layout) -> bool:
    return _pg_ctl(layout, "status", check=False).returncode == 0


def start(layout: Layout, config: ServicesConfig, creds: Credentials) -> str:
    """Initialise the cluster on first use, start it, wait until it answers, create the role and
    databases; return what was done."""
    did = "already running"
    if not (data_dir(layout) / "PG_VERSION").is_file():
        _initdb(layout, config, creds)
        did = "initialised and started"
    if not is_running(layout):
        _pg_ctl(layout, "start", "-w", "-t", "60", "-l", str(log_file(layout)))
        did = "started" if did == "already running" else did
    wait_until(lambda: _connect(config, creds).close() is None, "PostgreSQL", 30,
               log_file(layout))
    _ensure_role_and_databases(config, creds)
    return f"{did} on {config.host}:{config.ports.postgres}"


def stop(layout: Layout) -> bool:
    """Stop the cluster (fast shutdown); whether it was running."""
    if not (data_dir(layout) / "PG_VERSION").is_file() or not is_running(layout):
        return False
    _pg_ctl(layout, "stop", "-w", "-m", "fast")
    return True


def _initdb(layout: Layout, config: ServicesConfig, creds: Credentials) -> None:
    layout.postgres.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.postgres, 0o700)
    _chown(layout.postgres)
    pwfile = layout.postgres / "pwfile"
    pwfile.write_text(creds.postgres_superuser + "\n")
    os.chmod(pwfile, 0o600)
    _chown(pwfile)
    try:
        _run([str(bindir() / "initdb"), "-D", str(data_dir(layout)), "-U", SUPERUSER,
              "--pwfile", str(pwfile), "--auth-local=scram-sha-256",
              "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"])
    finally:
        pwfile.unlink(missing_ok=True)
    settings = (f"\n# pipeline services\nlisten_addresses = '{config.host}'\n"
                f"port = {config.ports.postgres}\nunix_socket_directories = ''\n")
    with open(data_dir(layout) / "postgresql.conf", "a") as conf:
        conf.write(settings)


def _ensure_role_and_databases(config: ServicesConfig, creds: Credentials) -> None:
    from psycopg import sql

    conn = _connect(config, creds)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(creds.postgres_mlflow)))
            for name in DATABASES:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(ROLE)))
    finally:
        conn.close()


def _connect(config: ServicesConfig, creds: Credentials, database: str = "postgres"):
    import psycopg

    return psycopg.connect(host=config.host, port=config.ports.postgres, user=SUPERUSER,
                           password=creds.postgres_superuser, dbname=database, connect_timeout=3,
                           autocommit=True)


def _pg_ctl(layout: Layout, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run([str(bindir() / "pg_ctl"), "-D", str(data_dir(layout)), *args], check=check)


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program, as the ``postgres`` user when we are root."""
    program = Path(argv[0]).name
    if os.geteuid() == 0:
        argv = ["runuser", "-u", _service_user(), "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, cwd="/")
    if check and done.returncode != 0:
        hint = (" (the postgres user must be able to reach the state folder: every folder "
                "above it needs o+x)" if "ermission denied" in done.stderr else "")
        raise UserError(f"PostgreSQL's {program} failed: "
                        f"{(done.stderr or done.stdout).strip()[-800:]}{hint}")
    return done


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(_service_user())
        os.chown(path, user.pw_uid, user.pw_gid)


def _service_user() -> str:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise UserError("running as root, PostgreSQL needs the system user 'postgres': "
                        + INSTALL_HINT) from None
    return "postgres"
