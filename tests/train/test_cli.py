"""The train command end to end: torchrun DDP with 2 CPU processes, and the MLflow record."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from pipeline.cli import main
from tests.data.tiny import REPO, params_file, train_params

pytestmark = pytest.mark.slow


def _args(root, out):
    return ["train", "--cache", str(root / "cache"), "--splits", str(root / "splits.json"),
            "--fingerprint", str(root / "fingerprint.json"), "--model", str(out / "teacher.pt"),
            "--metrics", str(out / "train.json"), "--curve", str(out / "curve.csv")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.verifies("SRS-TRAIN-003")
def test_torchrun_two_cpu_processes_gloo_rank0_writes(cache3d, tmp_path):
    params = params_file(tmp_path / "params.yaml", train_params(epochs=2, device="cpu"))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
               "-m", "pipeline", "--params", str(params), *_args(cache3d, tmp_path), "--no-mlflow"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["world_size"] == 2 and metrics["device"] == "cpu"
    assert done.stdout.count("train: best val Dice") == 1  # rank 0 alone reports
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("params")) == [
        "curve.csv", "teacher.pt", "train.json"]


@pytest.mark.verifies("SRS-TRAIN-005", "SRS-PLAT-003")
def test_mlflow_run_has_params_epoch_metrics_model_and_fingerprint(cache3d, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)  # artifacts land under tmp_path/mlartifacts
    params = params_file(tmp_path / "params.yaml", train_params(epochs=2))
    assert main(["--params", str(params), *_args(cache3d, tmp_path)]) == 0
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])[0]
    assert run.data.tags["stage"] == "train" and "git_commit" in run.data.tags
    assert run.data.params["seed"] == "11" and run.data.params["threads"] == "1"
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 2
    assert run.data.tags["weights_sha256"] == json.loads((tmp_path / "train.json").read_text())["weights_sha256"]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"fingerprint.json", "train.json", "teacher.pt", "curve.csv"} <= names
    models = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert any(m.source_run_id == run.info.run_id for m in models)
