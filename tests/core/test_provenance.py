"""Provenance: the git commit and the dvc.lock hashes a stage's inputs had; MLflow tags them."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from pipeline.core import provenance

LOCK = {
    "schema": "2.0",
    "stages": {
        "cohort": {"cmd": "x", "outs": [{"path": "data/raw", "md5": "abc.dir", "size": 1}]},
        "deid": {"cmd": "y", "outs": [{"path": "data/deid/", "md5": "def.dir"},
                                      {"path": "metrics/deid.json", "md5": "123"}]},
    },
}


@pytest.mark.verifies("SRS-PLAT-003")
def test_lock_hashes_finds_upstream_outputs(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(yaml.safe_dump(LOCK))
    hashes = provenance.lock_hashes(["data/raw", "data/deid", "params.yaml"], lock)
    assert hashes == {"data/raw": "abc.dir", "data/deid": "def.dir", "params.yaml": "untracked"}


@pytest.mark.verifies("SRS-PLAT-003")
def test_lock_hashes_without_lock_file(tmp_path):
    assert provenance.lock_hashes(["data/raw"], tmp_path / "dvc.lock") == {"data/raw": "untracked"}


@pytest.mark.verifies("SRS-PLAT-003")
def test_git_commit_marks_dirty_trees(tmp_path):
    assert provenance.git_commit(tmp_path) == "unknown"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f.txt").write_text("1")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    commit = provenance.git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "f.txt").write_text("2")
    assert provenance.git_commit(tmp_path) == commit + "-dirty"


@pytest.mark.verifies("SRS-PLAT-003")
def test_file_sha256(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    assert provenance.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.slow
@pytest.mark.verifies("SRS-PLAT-003")
def test_stage_run_tags_commit_stage_and_input_hashes(tmp_path, monkeypatch):
    from pipeline.core.tracking import stage_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    with stage_run("deid", inputs=["data/raw"], root=tmp_path) as recorder:
        recorder.log_metric("files", 3)
    import mlflow

    run = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(recorder.run_id)
    assert run.data.tags["stage"] == "deid"
    assert run.data.tags["git_commit"] == "unknown"
    assert run.data.tags["dvc.input.data/raw"] == "abc.dir"
    assert run.data.metrics["files"] == 3
    assert (tmp_path / "mlflow.db").is_file()



@pytest.mark.verifies("SRS-PLAT-003")
def test_the_lock_parses_as_pyyamls_safe_loader_parses_it():
    text = yaml.safe_dump(LOCK) + "# written by DVC\n"
    assert provenance.load_lock_text(text) == yaml.safe_load(text) == LOCK
    assert provenance.load_lock_text("") == {}
