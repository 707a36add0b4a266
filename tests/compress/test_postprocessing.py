"""Largest-component post-processing chosen per model on validation cases (SRS-COMP-004)."""

from __future__ import annotations

import pytest

from pipeline.compress import postprocessing
from tests.runtime.masks import ISLAND, LESION, blobs


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_chosen_when_it_raises_validation_dice():
    truths = [blobs(LESION), blobs(LESION)]
    masks = [blobs(LESION, ISLAND), blobs(LESION)]
    decision = postprocessing.decide(masks, truths)
    assert decision["keep_largest_component"] and decision["cases_changed"] == 1
    assert decision["val_dice_largest_component"] == decision["val_dice"] == 1.0 > decision["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_where_images_hold_several_structures():
    two = blobs(LESION, ISLAND)  # the small one is a real second lesion here
    decision = postprocessing.decide([two, two], [two, two])
    assert not decision["keep_largest_component"]
    assert decision["val_dice"] == decision["val_dice_without"] == 1.0 > decision["val_dice_largest_component"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_when_it_changes_nothing_or_is_switched_off():
    truths, masks = [blobs(LESION)], [blobs(LESION, ISLAND)]
    assert not postprocessing.decide([blobs(LESION)], truths)["keep_largest_component"]
    never = postprocessing.decide(masks, truths, mode="never")
    assert not never["keep_largest_component"] and never["val_dice"] == never["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_decide_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        postprocessing.decide([], [], mode="always")
    with pytest.raises(ValueError, match="2 masks but 1"):
        postprocessing.decide([blobs(), blobs()], [blobs()])
