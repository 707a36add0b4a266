"""``python -m pipeline verify``: missing inputs end with one clear message and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.verifies("SRS-PLAT-001", "SRS-VNV-002")
def test_missing_inputs_are_named(tmp_path, capsys):
    args = ["--params", str(ROOT / "params.yaml"), "verify", "--no-mlflow",
            "--plan", str(ROOT / "verification" / "criteria.yaml"),
            "--splits", str(tmp_path / "splits.json"), "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out"), "--metrics", str(tmp_path / "vnv.json")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "splits.json not found" in err and "Traceback" not in err
    assert not (tmp_path / "vnv.json").exists() and not (tmp_path / "out").exists()


@pytest.mark.verifies("SRS-VNV-001")
def test_a_broken_plan_is_reported_before_any_work(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("title: t\nage_bands_years: [0, 10]\ncriteria: []\n")
    args = ["--params", str(ROOT / "params.yaml"), "verify", "--no-mlflow", "--plan", str(plan),
            "--metrics", str(tmp_path / "vnv.json")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "release_policy" in err and "criteria" in err
