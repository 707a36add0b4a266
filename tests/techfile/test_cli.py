"""``python -m pipeline techfile``: renders from a recorded run; a missing input exits 2 naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import cli
from tests.techfile.fixture import make_run

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-001", "SRS-PLAT-001")
def test_cli_renders_and_a_missing_input_exits_2(tmp_path, capsys):
    root = tmp_path / "run"
    make_run(root)
    params = ["--params", str(REPO / "params.yaml"), "techfile", "--root", str(root), "--no-pdf", "--no-mlflow"]
    assert cli.main(params) == 0
    out = capsys.readouterr().out
    assert "release status: releasable" in out
    assert (root / "release/techfile/technical_file.html").is_file()
    (root / "data/splits.json").unlink()
    assert cli.main(params) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: missing input:") and "data/splits.json" in err
    shutil.rmtree(root / "data")
    assert cli.main(params) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: the recorded evidence does not match dvc.lock") and "data/raw: is missing" in err


@pytest.mark.verifies("SRS-PLAT-003", "SRS-DOC-003")
def test_the_stage_is_an_mlflow_run_and_rendering_twice_stays_byte_identical(tmp_path, monkeypatch):
    root = tmp_path / "run"
    make_run(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'tracking.db'}")
    params = ["--params", str(REPO / "params.yaml"), "techfile", "--root", str(root), "--no-pdf"]
    assert cli.main(params) == 0
    first = {p: p.read_bytes() for p in sorted((root / "release").rglob("*")) if p.is_file()}
    assert cli.main(params) == 0
    assert {p: p.read_bytes() for p in sorted((root / "release").rglob("*")) if p.is_file()} == first
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'tracking.db'}")  # the stage's store, not a global one
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    assert [r.data.tags["stage"] for r in runs] == ["techfile", "techfile"]
    assert all(r.info.run_id.encode() not in b"".join(first.values()) for r in runs)
