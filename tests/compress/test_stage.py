"""The compress stage on tiny data: the test split never reaches distillation or calibration
(SRS-COMP-002, SRS-TRAIN-004), every candidate is measured and the choice recorded (SRS-COMP-001)."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.compress import distill, guard, quantize
from pipeline.compress import stage as compress_stage
from pipeline.preprocess.cache import LockedSplitError
from pipeline.train.model import load_checkpoint
from tests.export import tiny


def locked_ids(splits_path):
    return {entry["case_id"] for entry in json.loads(splits_path.read_text())["splits"]["test"]}


@pytest.mark.verifies("SRS-COMP-002")
def test_guard_refuses_a_test_case(tmp_path):
    _, splits = tiny.make_cache(tmp_path)
    record = json.loads(splits.read_text())
    leaked = record["splits"]["test"][0]["case_id"]
    with pytest.raises(LockedSplitError, match="INT8 calibration would use 1 case"):
        guard.check_not_locked([record["splits"]["train"][0]["case_id"], leaked], record, "INT8 calibration")


@pytest.mark.slow
@pytest.mark.verifies("SRS-COMP-001", "SRS-COMP-002", "SRS-COMP-004", "SRS-TRAIN-004")
def test_stage_never_shows_test_cases_and_records_its_choice(tmp_path, monkeypatch):
    cache, splits = tiny.make_cache(tmp_path)
    teacher = tiny.make_teacher(tmp_path / "teacher.pt")
    seen = {"distill": set(), "calibration": set(), "arrays": []}
    real_distill, real_calib = distill.distill, quantize.calibration_batches

    def spy_distill(teacher_net, student, train, val, *args, **kwargs):
        seen["distill"].update(c["case_id"] for c in train + val)
        return real_distill(teacher_net, student, train, val, *args, **kwargs)

    def spy_calib(cases, patch):
        seen["calibration"].update(c["case_id"] for c in cases)
        return real_calib(cases, patch)

    monkeypatch.setattr(distill, "distill", spy_distill)
    monkeypatch.setattr(quantize, "calibration_batches", spy_calib)
    paths = compress_stage.CompressPaths(teacher, cache, splits, tmp_path / "student.pt",
                                         tmp_path / "choice.json", tmp_path / "compress.json")
    metrics = compress_stage.run(tiny.compress_params(), paths)
    locked = locked_ids(splits)
    assert locked and seen["distill"] and seen["calibration"]
    assert not (seen["distill"] | seen["calibration"]) & locked
    choice = json.loads((tmp_path / "choice.json").read_text())
    assert not set(choice["distillation_case_ids"] + choice["calibration_case_ids"]) & locked
    names = {c["name"] for c in metrics["candidates"]}
    assert names == {"teacher_fp32", "teacher_int8", "narrow_fp32", "narrow_int8"}
    assert choice["chosen"] in names and choice["reason"] and set(choice["verdicts"]) == names
    val = set(choice["selection_case_ids"])
    for role in ("teacher", "compressed"):  # post-processing chosen on the validation cases only
        assert choice["postprocessing"][role]["cases"] == len(val) and not val & locked
    for row in metrics["candidates"]:
        assert row.get("error") or (row["latency_ms"] > 0 and row["bytes"] > 0 and 0 <= row["val_dice"] <= 1)
    student, config = load_checkpoint(tmp_path / "student.pt")
    assert config["network"]["channels"] == [2, 4] and config["weights_sha256"] == choice["student_weights_sha256"]


@pytest.mark.verifies("SRS-COMP-001")
def test_kd_loss_is_zero_for_identical_logits_and_positive_otherwise():
    logits = torch.randn(2, 2, 4, 4, 4)
    assert float(distill.kd_loss(logits, logits, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distill.kd_loss(logits, -logits, 2.0)) > 0.01
