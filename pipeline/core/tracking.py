"""MLflow tracking for every stage: one helper, one SQLite store inside the repository.

MLflow 3 refuses a plain ``./mlruns`` file store, so the store is ``sqlite:///mlflow.db``
(git-ignored) with artifacts under ``mlartifacts/``. Each stage run is tagged with the
git commit, the stage name and the ``dvc.lock`` hashes of the inputs it read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from pipeline.core import provenance

EXPERIMENT = "pipeline"
ENV_URI = "MLFLOW_TRACKING_URI"


def tracking_uri(root: Path = Path(".")) -> str:
    """The tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else the repository's SQLite store."""
    return os.environ.get(ENV_URI) or f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


@contextlib.contextmanager
def stage_run(stage: str, inputs: list[str], root: Path = Path(".")) -> Iterator["object"]:
    """Open an MLflow run for ``stage`` tagged with its provenance; yield the ``mlflow`` module.

    Args:
        stage: the DVC stage name.
        inputs: the paths the stage reads, looked up in ``dvc.lock``.
        root: the repository root (for the store and the git commit).
    """
    import mlflow  # slow import: only stages that log pay for it

    mlflow.set_tracking_uri(tracking_uri(root))
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        artifacts = (Path(root) / "mlartifacts").resolve().as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    tags = {"stage": stage, "git_commit": provenance.git_commit(Path(root))}
    for path, md5 in provenance.lock_hashes(inputs, Path(root) / "dvc.lock").items():
        tags[f"dvc.input.{path}"] = md5
    with mlflow.start_run(run_name=stage, tags=tags):
        yield mlflow


def latest_run_id(stage: str, root: Path = Path(".")) -> str:
    """The MLflow run ID of the latest run of an earlier stage (``train``), else ``unknown``.

    Args:
        stage: the stage whose run is wanted.
        root: the repository root (for the store).
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(root))
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT], filter_string=f"tags.stage = '{stage}'",
                              order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    return runs[0].info.run_id if runs else "unknown"
