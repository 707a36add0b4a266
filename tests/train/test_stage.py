"""The train stage on tiny data: outputs, determinism, the locked test split, 2D, validation."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from pipeline.core.errors import UserError
from pipeline.train import stage
from pipeline.nets.checkpoint import load_checkpoint
from tests.data.tiny import train_params

pytestmark = pytest.mark.slow


def _paths(cache_root, out):
    return stage.TrainPaths(cache_root / "cache", cache_root / "splits.json", out / "teacher.pt",
                            out / "train.json", out / "curve.csv")


@pytest.mark.verifies("SRS-TRAIN-001", "SRS-TRAIN-003", "SRS-TRAIN-005")
def test_short_run_writes_checkpoint_metrics_and_curve(cache3d, tmp_path):
    paths = _paths(cache3d, tmp_path)
    seen = []
    result = stage.run(train_params(epochs=3), paths, on_epoch=seen.append)
    metrics = json.loads(paths.metrics.read_text())
    assert metrics["epochs"] == 3 and 1 <= metrics["best_epoch"] <= 3
    assert 0.0 <= metrics["best_val_dice"] <= 1.0 and metrics["threads"] == 1 and metrics["seed"] == 11
    rows = list(csv.DictReader(paths.curve.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] == [r["epoch"] for r in seen]
    assert float(rows[1]["lr"]) < float(rows[0]["lr"])  # cosine schedule
    net, config = load_checkpoint(paths.model)
    assert config["weights_sha256"] == metrics["weights_sha256"] == result["weights_sha256"]
    from pipeline.recipe import loop  # the precision it computed in is recorded with the weights (SRS-TRAIN-003)
    assert metrics["precision"] == config["precision"] == loop.precision_name(loop.precision("cpu", True))
    assert metrics["amp"] == (metrics["precision"] != "float32")
    assert config["best_val_dice"] == max(float(r["val_dice"]) for r in rows)
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 16, 16, 8)).shape == (1, 2, 16, 16, 8)


@pytest.mark.verifies("SRS-TRAIN-002")
def test_same_seed_and_threads_give_the_same_weights(cache3d, tmp_path):
    first = stage.run(train_params(), _paths(cache3d, tmp_path / "a"))
    again = stage.run(train_params(), _paths(cache3d, tmp_path / "b"))
    other = stage.run(train_params(seed=12), _paths(cache3d, tmp_path / "c"))
    assert first["weights_sha256"] == again["weights_sha256"]
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert other["weights_sha256"] != first["weights_sha256"]


def _losses(out):
    return [(r["train_loss"], r["val_dice"]) for r in csv.DictReader((out / "curve.csv").open())]


@pytest.mark.verifies("SRS-TRAIN-004")
def test_training_and_selection_never_read_the_test_split(cache3d, tmp_path, monkeypatch):
    root = tmp_path / "copy"
    shutil.copytree(cache3d, root)
    splits = json.loads((root / "splits.json").read_text())
    test_ids = {e["case_id"] for e in splits["splits"]["test"]}
    for case_id in test_ids:  # the test cases are gone: training must not notice
        (root / "cache" / "cases" / f"{case_id}.npz").unlink()
    opened = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda path, *a, **k: opened.append(str(path)) or real_load(path, *a, **k))
    result = stage.run(train_params(epochs=1), _paths(root, tmp_path))
    assert result["train_cases"] + result["val_cases"] == 9 - len(test_ids)
    assert opened and not any(case_id in path for path in opened for case_id in test_ids)


@pytest.mark.verifies("SRS-TRAIN-001")
def test_2d_network_on_an_image_folder(cache2d, tmp_path):
    result = stage.run(train_params(spatial_dims=2, epochs=2), _paths(cache2d, tmp_path))
    assert result["config"]["spatial_dims"] == 2 and result["best_epoch"] >= 1


@pytest.mark.verifies("SRS-PLAT-001")
def test_network_must_match_the_cache_and_patch_the_strides(cache2d, tmp_path):
    with pytest.raises(UserError, match="cache is 2D"):
        stage.run(train_params(spatial_dims=3), _paths(cache2d, tmp_path))
    with pytest.raises(ValueError, match="divisible"):
        train_params(patch_size=[15, 16, 8])
