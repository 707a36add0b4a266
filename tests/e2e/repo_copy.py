"""A throw-away copy of the repository for the end-to-end tests, and ``dvc`` run inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-test-key-not-secret-but-long-enough-32"


def copy_repository(dest: Path, params_text: str) -> Path:
    """The repository's tracked files copied to ``dest`` with ``params_text`` as ``params.yaml``,
    committed in a git repository of their own (the stages record the commit)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in files.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "params.yaml").write_text(params_text)
    commit(dest, "e2e")
    return dest


def commit(repo: Path, message: str) -> None:
    git = ["git", "-C", str(repo), "-c", "user.name=e2e", "-c", "user.email=e2e@example.org"]
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", message], check=True)


def run(repo: Path, program: str, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """``program`` (an executable of this interpreter's environment: dvc, python) run in ``repo``
    with the test key, no MLflow server and CI's environment."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PIPELINE_DEID_KEY=KEY, CI="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(bin_dir / program), *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)
