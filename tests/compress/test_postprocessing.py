"""Post-processing chosen per model on validation cases: component rule and operating point (SRS-COMP-004)."""

from __future__ import annotations

import pytest

from pipeline.compress import postprocessing
import numpy as np

from tests.runtime.masks import ISLAND, LESION, blobs, logits_of


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_chosen_when_it_raises_validation_dice():
    truths = [blobs(LESION)] * 4
    masks = [blobs(LESION, ISLAND)] * 3 + [blobs(LESION)]
    decision = postprocessing.decide([logits_of(m) for m in masks], truths)
    assert decision["keep_largest_component"] and decision["cases_changed"] == 3
    assert decision["val_dice_largest_component"] == decision["val_dice"] == 1.0 > decision["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_where_images_hold_several_structures():
    two = blobs(LESION, ISLAND)  # the small one is a real second lesion here
    decision = postprocessing.decide([logits_of(two)] * 2, [two, two])
    assert not decision["keep_largest_component"]
    assert decision["val_dice"] == decision["val_dice_without"] == 1.0 > decision["val_dice_largest_component"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_when_it_changes_nothing_or_is_switched_off():
    truths, masks = [blobs(LESION)], [blobs(LESION, ISLAND)]
    assert not postprocessing.decide([logits_of(blobs(LESION))], truths)["keep_largest_component"]
    never = postprocessing.decide([logits_of(m) for m in masks], truths, mode="never")
    assert not never["keep_largest_component"] and never["val_dice"] == never["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_decide_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        postprocessing.decide([], [], mode="always")
    with pytest.raises(ValueError, match="2 logit maps but 1"):
        postprocessing.decide([logits_of(blobs())] * 2, [blobs()])


def _under_called(truth: np.ndarray, rim: np.ndarray) -> np.ndarray:
    """Logits that call the lesion's core clearly and its rim at a foreground probability of 0.3."""
    logits = logits_of(truth)
    logits[1][rim > 0] = np.log(0.3 / 0.7)
    return logits


@pytest.mark.verifies("SRS-COMP-004")
def test_operating_point_that_raises_val_dice_is_chosen():
    truth = blobs(LESION)
    rim = truth.copy()
    rim[3:7, 3:7, 3:5] = 0  # the lesion's rim, which the model under-calls
    logits = [_under_called(truth, rim)]
    at_argmax = postprocessing.decide(logits, [truth])
    assert at_argmax["foreground_threshold"] == 0.5 and at_argmax["val_dice"] < 1.0
    decision = postprocessing.decide(logits, [truth], thresholds=[0.5, 0.4, 0.25, 0.1])
    # 0.25 and 0.1 both recover the rim: the one closer to the argmax wins the tie
    assert decision["foreground_threshold"] == 0.25 and decision["val_dice"] == 1.0
    assert decision["val_dice_by_threshold"]["0.5"]["without"] == at_argmax["val_dice"]
    assert list(decision["val_dice_by_threshold"]) == ["0.5", "0.4", "0.25", "0.1"]


@pytest.mark.verifies("SRS-COMP-004")
def test_argmax_is_kept_when_no_threshold_helps_and_for_more_classes():
    truth = blobs(LESION)
    assert postprocessing.decide([logits_of(truth)], [truth], thresholds=[0.3, 0.7])["foreground_threshold"] == 0.5
    three = np.concatenate([logits_of(truth), np.full((1, *truth.shape), -9.0, np.float32)])
    decision = postprocessing.decide([three], [truth], thresholds=[0.3])
    assert decision["foreground_threshold"] == 0.5 and list(decision["val_dice_by_threshold"]) == ["0.5"]


@pytest.mark.verifies("SRS-COMP-004")
def test_one_standard_error_rule_keeps_the_simpler_choice_within_noise():
    def option(name, per_case):
        return {"name": name, "per_case": per_case, "val_dice": float(np.mean(per_case))}

    simple = option("argmax", [0.80, 0.90, 0.70, 0.85])
    # best on average, but only through one case: the paired differences are noisy
    lucky = option("lucky", [0.80, 0.90, 0.70, 0.95])
    chosen, best, margin = postprocessing.one_standard_error([simple, lucky])
    assert best["name"] == "lucky" and chosen["name"] == "argmax" and margin == pytest.approx(0.025)
    # the same mean gain on every case is beyond the noise: the change is made
    steady = option("steady", [0.825, 0.925, 0.725, 0.875])
    chosen, best, margin = postprocessing.one_standard_error([simple, steady])
    assert chosen["name"] == best["name"] == "steady" and margin == 0.0


@pytest.mark.verifies("SRS-COMP-004")
def test_decision_records_the_best_choice_beside_the_chosen_one():
    truth = blobs(LESION)
    decision = postprocessing.decide([logits_of(truth)] * 3, [truth] * 3, thresholds=[0.3])
    assert decision["rule"] == "one standard error"
    assert decision["best"] == {"foreground_threshold": 0.5, "keep_largest_component": False, "val_dice": 1.0,
                                "standard_error": 0.0}
