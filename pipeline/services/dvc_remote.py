"""The DVC remote ``team``: the DVC bucket of the object store.

``.dvc/config`` (committed) names only the bucket, ``s3://pipeline-dvc``; the endpoint and the
person's key come from ``.services/env`` (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``), so every clone of the repository reaches the team's store with its
own credentials and nothing secret or site-specific is committed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.services.layout import REMOTE


def remote_url(bucket: str) -> str:
    return f"s3://{bucket}"


def configured(repo: Path) -> dict[str, str]:
    """``name -> url`` of the remotes DVC sees in ``repo``."""
    listed = _dvc(repo, "remote", "list")
    remotes = {}
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            remotes[fields[0]] = fields[1]
    return remotes


def ensure(repo: Path, bucket: str) -> str:
    """Add (or correct) the project-level remote ``team``; return what was done."""
    url = remote_url(bucket)
    if configured(repo).get(REMOTE) == url:
        return f"remote {REMOTE!r} -> {url} (already in .dvc/config)"
    _dvc(repo, "remote", "add", "--force", REMOTE, url)
    return f"remote {REMOTE!r} -> {url} added to .dvc/config (commit it)"


def pull(repo: Path) -> list[str]:
    """``dvc pull -r team`` of every shareable output recorded in ``dvc.lock`` (a plain
    ``dvc pull -r team`` restores the same files, then exits 1 naming the identified outputs,
    which are never in the remote); return what was done."""
    from pipeline.services.privacy import shareable_outputs, unpushed_outputs

    targets = shareable_outputs(repo)
    done = subprocess.run([sys.executable, "-m", "dvc", "pull", "-r", REMOTE, *targets],
                          cwd=repo, text=True)
    if done.returncode != 0:
        raise UserError(f"dvc pull -r {REMOTE} failed (exit {done.returncode}); is "
                        ".services/env sourced and the team store up?")
    return [f"pulled {len(targets)} outputs from {REMOTE!r}",
            "not in the remote by design (identified zone only): "
            + ", ".join(unpushed_outputs(Path(repo) / "dvc.yaml"))]


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise UserError(f"dvc {' '.join(args)} failed in {repo}: {done.stderr.strip()[-500:]}")
    return done
