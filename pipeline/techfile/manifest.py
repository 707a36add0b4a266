"""``release/manifest.json``: every released file with SHA-256 and size, and the build identity."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.records import write_record
from pipeline.governance.manifest import Manifest
from pipeline.governance.release_files import released_files

__all__ = ["released_files", "write_manifest"]


def write_manifest(path: Path, release_dir: Path, build: dict, status: dict,
                   runs: dict[str, str]) -> dict:
    """Write the manifest and return it.

    Args:
        path: ``release/manifest.json``.
        release_dir: the folder whose files are listed.
        build: ``release.build_identity``.
        status: ``release.release_status``.
        runs: stage -> MLflow run ID.
    """
    manifest = {"git_commit": build["commit"], "commit_date": build["date"], "draft": build["draft"],
                "uncommitted_changes": build["changed_files"],
                "dvc_lock_evidence_sha256": build["dvc_lock_sha256"], "mlflow_runs": dict(sorted(runs.items())),
                "release_status": status["status"], "reasons": status["reasons"],
                "files": released_files(Path(release_dir), Path(path))}
    write_record(Path(path), manifest, Manifest, "release manifest", shared=True)
    return manifest
