"""The MLflow tracking server: PostgreSQL store, artifacts in the object store, basic auth on.

``mlflow server --app-name basic-auth`` (MLflow's own authentication app) with:

- the tracking store in PostgreSQL's ``mlflow`` database, users and permissions in
  ``mlflow_auth``;
- artifacts proxied by the server into the MLflow bucket (clients never hold S3 keys for it);
- every request without valid credentials refused (401); ``default_permission = READ`` for
  authenticated users, and each person gets EDIT on the ``pipeline`` experiment that every
  stage logs to (created here by the admin with the server's proxied artifact root, so that no
  client creates it with a local artifact folder).

Secrets reach the server through its environment and a 0600 config file, never its command line.
"""

from __future__ import annotations

import os
import sys

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.services import postgres, process
from pipeline.services.credentials import Credentials
from pipeline.services.layout import EXPERIMENT, Layout, ServicesConfig

SERVICE = "mlflow"
ADMIN = "admin"
TIMEOUT = 10


def auth_ini(config: ServicesConfig, creds: Credentials) -> str:
    """MLflow's basic-auth config (``MLFLOW_AUTH_CONFIG_PATH``)."""
    return ("[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {postgres.database_uri(config, creds, 'mlflow_auth')}\n"
            f"admin_username = {ADMIN}\nadmin_password = {creds.mlflow_admin}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            # each log call is a request: without the cache every one pays a PBKDF2 hash
            "auth_cache_ttl_seconds = 60\n")


def server_env(layout: Layout, config: ServicesConfig, creds: Credentials) -> dict[str, str]:
    """The server's environment: ours less any MLflow client or AWS settings, plus its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AWS_", "_MLFLOW"))}
    env.update({
        "MLFLOW_BACKEND_STORE_URI": postgres.database_uri(config, creds, "mlflow"),
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{config.mlflow_bucket}/artifacts",
        "MLFLOW_AUTH_CONFIG_PATH": str(layout.mlflow / "basic_auth.ini"),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": creds.mlflow_flask_secret,
        "MLFLOW_S3_ENDPOINT_URL": config.s3_endpoint,
        "AWS_ACCESS_KEY_ID": creds.s3_mlflow_server.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.s3_mlflow_server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    return env


def marker(config: ServicesConfig) -> str:
    return f"mlflow server --host {config.host} --port {config.ports.mlflow}"


def argv(config: ServicesConfig) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--host", config.host, "--port",
            str(config.ports.mlflow), "--app-name", "basic-auth", "--serve-artifacts",
            "--workers", "1"]


def is_running(layout: Layout, config: ServicesConfig) -> bool:
    return process.running(layout.pidfile(SERVICE), marker(config)) is not None


def start(layout: Layout, config: ServicesConfig, creds: Credentials) -> str:
    """Start the server, wait for it, create the experiment and each person's user; return
    what was done."""
    with atomic_file(layout.mlflow / "basic_auth.ini") as handle:
        handle.write(auth_ini(config, creds))
    did = "already running"
    if not is_running(layout, config):
        process.start(argv(config), layout.pidfile(SERVICE), layout.log(SERVICE),
                      cwd=layout.mlflow, env=server_env(layout, config, creds))
        did = "started"
    process.wait_until(lambda: _get(config, "/health", None).status_code == 200,
                       "MLflow server", 180, layout.log(SERVICE),
                       alive=lambda: is_running(layout, config))
    admin = (ADMIN, creds.mlflow_admin)
    # /health answers before the basic-auth app accepts logins: a CI run on a loaded machine had
    # the first admin request refused (401) and a second `up` moments later succeed
    process.wait_until(lambda: _get(config, "/api/2.0/mlflow/users/get", admin,
                                    params={"username": ADMIN}).status_code == 200,
                       "MLflow server (accepting the admin login of basic_auth.ini)", 60, layout.log(SERVICE),
                       alive=lambda: is_running(layout, config))
    experiment = ensure_experiment(config, admin)
    for name, person in sorted(creds.people.items()):
        ensure_user(config, admin, name, person.mlflow_password, experiment)
    return f"{did} on {config.mlflow_uri} (basic auth; experiment {EXPERIMENT!r} id {experiment})"


def stop(layout: Layout, config: ServicesConfig) -> bool:
    return process.stop(layout.pidfile(SERVICE), marker(config))


def ensure_experiment(config: ServicesConfig, admin: tuple[str, str]) -> str:
    """The id of the ``pipeline`` experiment, created (server-side artifact root) if missing."""
    found = _get(config, "/api/2.0/mlflow/experiments/get-by-name", admin,
                 params={"experiment_name": EXPERIMENT})
    if found.status_code == 200:
        return found.json()["experiment"]["experiment_id"]
    created = _checked(_post(config, "/api/2.0/mlflow/experiments/create", admin,
                             {"name": EXPERIMENT}), "create the experiment")
    return created.json()["experiment_id"]


def ensure_user(config: ServicesConfig, admin: tuple[str, str], name: str, password: str,
                experiment: str) -> None:
    """Create ``name`` (if missing) and give it EDIT on the experiment."""
    exists = _get(config, "/api/2.0/mlflow/users/get", admin, params={"username": name})
    if exists.status_code != 200:
        _checked(_post(config, "/api/2.0/mlflow/users/create", admin,
                       {"username": name, "password": password}), f"create user {name}")
    granted = _post(config, "/api/3.0/mlflow/users/permissions/grant", admin,
                    {"username": name, "resource_type": "experiment", "resource_id": experiment,
                     "permission": "EDIT"})
    if "RESOURCE_ALREADY_EXISTS" not in granted.text:  # an admin may have changed it since
        _checked(granted, f"grant {name} EDIT on {EXPERIMENT}")


def _get(config: ServicesConfig, path: str, auth, **kwargs):
    import requests

    return requests.get(config.mlflow_uri + path, auth=auth, timeout=TIMEOUT, **kwargs)


def _post(config: ServicesConfig, path: str, auth, body: dict):
    import requests

    return requests.post(config.mlflow_uri + path, auth=auth, json=body, timeout=TIMEOUT)


def _checked(response, what: str):
    if response.status_code >= 300:
        raise UserError(f"MLflow server refused to {what}: HTTP {response.status_code} "
                        f"{response.text[:300]}")
    return response
