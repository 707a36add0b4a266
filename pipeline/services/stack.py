"""Bring the team services up and down together, in dependency order.

``up`` is idempotent: a service that already answers is left as it is; one that is not running
is started and waited for. State (databases, buckets, users, ports, secrets) survives ``down``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.services import credentials as credentials_mod
from pipeline.services import dvc_remote, envfile, objectstore, postgres, privacy, tracking_server
from pipeline.services.layout import Layout, ServicesConfig, check_user_name, load_or_create


def up(state: Path, repo: Path, person: str | None = None) -> list[str]:
    """Start PostgreSQL, the object store and MLflow; write the env file; name the DVC remote.

    Args:
        state: the state folder (``.services``).
        repo: the repository whose ``dvc.yaml`` is checked and whose DVC remote is configured.
        person: who the env file is for (default: the login name, fixed on the first start).

    Returns:
        One line per thing done, for the user.
    """
    from pipeline.core.errors import UserError
    from pipeline.services.preflight import missing

    if missing():
        raise UserError("the services cannot start here: " + "; ".join(missing()))
    never_pushed = privacy.check_identified_outputs(Path(repo) / "dvc.yaml")
    layout = Layout(state)
    layout.prepare()
    config = load_or_create(layout, person)
    creds = credentials_mod.load_or_create(layout.credentials)
    credentials_mod.add_person(creds, config.person)
    credentials_mod.save(layout.credentials, creds)
    lines = [f"postgres: {postgres.start(layout, config, creds)}",
             f"seaweedfs: {objectstore.start(layout, config, creds)}",
             f"mlflow: {tracking_server.start(layout, config, creds)}"]
    envfile.write(layout.env, envfile.variables(config, config.person,
                                                creds.people[config.person]), config.person)
    lines.append(f"dvc: {dvc_remote.ensure(Path(repo), config.dvc_bucket)}")
    lines.append(f"env: {layout.env} (user {config.person!r}; `. {layout.env}` to use the "
                 "services)")
    lines.append("never pushed (push: false in dvc.yaml): " + ", ".join(never_pushed)
                 + "; the de-identification key stays in .secrets/")
    return lines


def down(state: Path) -> list[str]:
    """Stop MLflow, the object store and PostgreSQL (state is kept)."""
    layout = Layout(state)
    if not layout.config.is_file():
        return [f"nothing to stop: {layout.root} holds no services"]
    config = load_or_create(layout)
    return [f"mlflow: {_stopped(tracking_server.stop(layout, config))}",
            f"seaweedfs: {_stopped(objectstore.stop(layout))}",
            f"postgres: {_stopped(postgres.stop(layout))}"]


def status(state: Path) -> dict[str, bool]:
    """Which services are running."""
    layout = Layout(state)
    if not layout.config.is_file():
        return {"postgres": False, "seaweedfs": False, "mlflow": False}
    config = load_or_create(layout)
    return {"postgres": postgres.is_running(layout), "seaweedfs": objectstore.is_running(layout),
            "mlflow": tracking_server.is_running(layout, config)}


def add_user(state: Path, name: str) -> Path:
    """Create a person's MLflow user and S3 key (restarting the object store to load it) and
    write their env file to ``users/NAME.env``; the services must be up."""
    from pipeline.core.errors import UserError

    name = check_user_name(name)
    layout = Layout(state)
    running = status(state)
    if not all(running.values()):
        raise UserError("the services are not all running: run `make services-up` first")
    config: ServicesConfig = load_or_create(layout)
    creds = credentials_mod.load_or_create(layout.credentials)
    person = credentials_mod.add_person(creds, name)
    credentials_mod.save(layout.credentials, creds)
    objectstore.start(layout, config, creds)
    tracking_server.start(layout, config, creds)
    path = layout.users / f"{name}.env"
    envfile.write(path, envfile.variables(config, name, person), name)
    return path


def _stopped(was_running: bool) -> str:
    return "stopped" if was_running else "was not running"
