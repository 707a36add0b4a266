"""Configuration mistakes of the train stage are user errors: one line, exit 2, no traceback."""

from __future__ import annotations

import pytest
import torch
import yaml

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.train import distributed
from tests.data.tiny import REPO


def _params(tmp_path, **train) -> str:
    """The repository's ``params.yaml`` with the given ``train`` keys changed."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["train"].update(train)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.verifies("SRS-PLAT-001")
def test_cuda_without_a_gpu_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="train.device is cuda but no CUDA device is available"):
        distributed.pick_device("cuda")
    assert distributed.pick_device("auto") == "cpu"


@pytest.mark.verifies("SRS-PLAT-001")
def test_cuda_without_a_gpu_stops_the_command_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "cache").mkdir()  # inputs that exist: the device is checked before any data is read
    (tmp_path / "splits.json").write_text("{}")
    assert main(["--params", _params(tmp_path, device="cuda"), "train", "--no-mlflow", "--cache",
                 str(tmp_path / "cache"), "--splits", str(tmp_path / "splits.json")]) == 2
    err = _one_line_error(capsys)
    assert "train.device is cuda" in err and err.count("\n") == 1


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_patch_the_strides_do_not_divide_stops_the_command_without_a_traceback(tmp_path, capsys):
    params = _params(tmp_path, patch_size=[15, 16, 8])
    assert main(["--params", params, "train", "--no-mlflow"]) == 2
    assert "divisible" in _one_line_error(capsys)
