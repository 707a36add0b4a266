"""Multi-machine training as far as one CPU machine allows: two torchrun agents (two "nodes"),
one process each, meeting through the c10d rendezvous a cluster uses (a store at a fixed
endpoint); only rank 0 logs to MLflow and writes outputs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.data.tiny import make_cohort, params_file, preprocess_params, train_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from pipeline.preprocess import stage

    root = tmp_path_factory.mktemp("dist")
    stage.run(preprocess_params(make_cohort(root / "raw")),
              stage.PreprocessPaths(root / "cache", root / "splits.json", root / "fingerprint.json"))
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.verifies("SRS-TEAM-005", "SRS-TRAIN-003")
def test_two_nodes_meet_through_c10d_and_only_rank0_logs(cache, tmp_path):
    import mlflow

    params = params_file(tmp_path / "params.yaml", train_params(epochs=1, device="cpu"))
    out = tmp_path / "out"
    # The rendezvous endpoint is a store that outlives both agents, as a cluster's is (with
    # an agent hosting it, the other agent can fail on its last poll once the host has left).
    from torch.distributed import TCPStore

    port = _free_port()
    store_server = TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False)
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node",
            "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
            "--rdzv-conf", "is_host=false", "--rdzv-id", "team-job-1",
            "--max-restarts", "0", "-m", "pipeline", "--params", str(params), "train",
            "--cache", str(cache / "cache"), "--splits", str(cache / "splits.json"),
            "--fingerprint", str(cache / "fingerprint.json"), "--model", str(out / "teacher.pt"),
            "--metrics", str(out / "train.json"), "--curve", str(out / "curve.csv"),
            "--mlflow-model", "artifact"]
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true", "MLFLOW_TRACKING_URI": store}
    nodes = [subprocess.Popen(node, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in nodes]
    del store_server
    for proc, (stdout, stderr) in zip(nodes, results):
        assert proc.returncode == 0, stderr[-3000:]
    assert sum(stdout.count("train: best val Dice") for stdout, _ in results) == 1
    metrics = json.loads((out / "train.json").read_text())
    assert metrics["world_size"] == 2
    client = mlflow.MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    assert len(runs) == 1  # rank 0 alone opened a run
    assert runs[0].data.params["world_size"] == "2" and runs[0].data.params["backend"] == "gloo"
    assert sorted(p.name for p in out.iterdir()) == ["curve.csv", "teacher.pt", "train.json"]
