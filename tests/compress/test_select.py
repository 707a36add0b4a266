"""Choosing the compressed model by measurement, with the reason recorded (SRS-COMP-001, SRS-COMP-003)."""

from __future__ import annotations

import pytest

from pipeline.compress.select import TEACHER, choose


def cand(name, dice, ms, size, shippable=True, source="s"):
    row = {"name": name, "source": "teacher" if name.startswith("teacher") else source, "method": name,
           "shippable": shippable, "val_dice": dice, "latency_ms": ms, "bytes": size}
    if not shippable:
        row["not_shippable_because"] = "parity"
    return row


@pytest.mark.verifies("SRS-COMP-001")
def test_fastest_eligible_candidate_is_chosen_with_reason():
    result = choose([cand(TEACHER, 0.90, 100, 4000), cand("a_fp32", 0.895, 30, 1000, source="a"),
                     cand("b_fp32", 0.893, 50, 900, source="b")], 0.01)
    assert result["chosen"] == "a_fp32" and result["source"] == "a"
    assert "3.33x" in result["reason"] and "4.00x smaller" in result["reason"]
    assert result["verdicts"]["b_fp32"] == "eligible"


@pytest.mark.verifies("SRS-COMP-003")
def test_candidate_losing_more_than_the_allowed_dice_is_excluded():
    result = choose([cand(TEACHER, 0.90, 100, 4000), cand("fast_fp32", 0.88, 10, 500),
                     cand("ok_fp32", 0.8905, 40, 1000)], 0.01)
    assert result["chosen"] == "ok_fp32"
    assert result["verdicts"]["fast_fp32"].startswith("val Dice 0.8800 below")


@pytest.mark.verifies("SRS-COMP-001")
def test_unshippable_and_failed_candidates_are_recorded_not_chosen():
    rows = [cand(TEACHER, 0.9, 100, 4000), cand("int8", 0.9, 5, 100, shippable=False),
            {**cand("broken", 0.9, 1, 1), "error": "boom"}]
    result = choose(rows, 0.01)
    assert result["chosen"] == TEACHER and result["method"] == "none"
    assert "shipped uncompressed" in result["reason"]
    assert result["verdicts"]["int8"] == "not shippable: parity" and result["verdicts"]["broken"] == "failed: boom"
