"""``release/manifest.json``: every released file with SHA-256 and size, and the build identity."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.atomic import write_json
from pipeline.core.provenance import file_sha256


def released_files(release_dir: Path, exclude: Path) -> list[dict]:
    """``path``, ``sha256`` and ``bytes`` of every file under ``release_dir``, sorted by path.

    Args:
        release_dir: the release folder.
        exclude: the manifest itself (not listed in itself).
    """
    root = Path(release_dir)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() == Path(exclude).resolve() or any(part.startswith(".") for part in
                                                             path.relative_to(root).parts):
            continue
        files.append({"path": path.relative_to(root).as_posix(), "sha256": file_sha256(path),
                      "bytes": path.stat().st_size})
    return files


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
    write_json(Path(path), manifest)
    return manifest
