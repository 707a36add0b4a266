"""The team services for the ``services`` tests: one private set per test session.

They run in a temporary state folder with their own free ports, so a developer's own
``make services-up`` is never touched. Where PostgreSQL or SeaweedFS is missing the tests are
skipped, except in CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.services import envfile
from pipeline.services.layout import Layout

ROOT = Path(__file__).resolve().parents[2]


def services_cli(state: Path, *args: str, repo: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m pipeline.services`` as ``make services-up`` runs it."""
    command = [sys.executable, "-m", "pipeline.services", "--dir", str(state)]
    if repo is not None:
        command += ["--repo", str(repo)]
    return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=400, env=clean_env())


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without MLflow, AWS or de-identification settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AWS_", "PIPELINE_DEID_KEY"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["CI"] = "true"
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def services_state():
    """A running set of services (state folder path); stopped and removed at the end."""
    from pipeline.services.preflight import missing

    problems = missing()
    if problems:
        if os.environ.get("CI"):
            pytest.fail("CI must run the services tests: " + "; ".join(problems))
        pytest.skip("services cannot start here: " + "; ".join(problems))
    state = Path(tempfile.mkdtemp(prefix="pipeline-services-"))
    os.chmod(state, 0o711)  # PostgreSQL's own user must reach its cluster folder
    yield state / "s"
    services_cli(state / "s", "down")
    shutil.rmtree(state, ignore_errors=True)


def team_env(state: Path) -> dict[str, str]:
    """The environment of a shell that sourced the env file."""
    return clean_env(envfile.read(Layout(state).env))
