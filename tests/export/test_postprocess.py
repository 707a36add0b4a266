"""Largest-component post-processing: the rule, the validation decision, the spec flag (SRS-COMP-004)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.export import postprocess
from tests.export import tiny


def _blobs(*boxes, shape=(20, 20, 12)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    for box in boxes:
        mask[box] = 1
    return mask


LESION = np.s_[2:8, 2:8, 2:6]
ISLAND = np.s_[15:17, 15:17, 9:11]


@pytest.mark.verifies("SRS-COMP-004")
def test_far_island_is_removed_and_the_lesion_kept():
    out = postprocess.keep_largest_component(_blobs(LESION, ISLAND))
    np.testing.assert_array_equal(out, _blobs(LESION))
    assert out.dtype == np.uint8


@pytest.mark.verifies("SRS-COMP-004")
def test_voxels_touching_at_a_corner_are_one_component():
    mask = _blobs(LESION, np.s_[8:9, 8:9, 6:7])  # touches the lesion's corner voxel diagonally
    np.testing.assert_array_equal(postprocess.keep_largest_component(mask), mask)


@pytest.mark.verifies("SRS-COMP-004")
@pytest.mark.parametrize("mask", [_blobs(), _blobs(LESION)])
def test_empty_or_single_component_masks_are_unchanged(mask):
    np.testing.assert_array_equal(postprocess.keep_largest_component(mask), mask)


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_chosen_when_it_raises_validation_dice():
    truths = [_blobs(LESION), _blobs(LESION)]
    masks = [_blobs(LESION, ISLAND), _blobs(LESION)]
    decision = postprocess.decide(masks, truths)
    assert decision["keep_largest_component"] and decision["cases_changed"] == 1
    assert decision["val_dice_largest_component"] == decision["val_dice"] == 1.0 > decision["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_where_images_hold_several_structures():
    two = _blobs(LESION, ISLAND)  # the small one is a real second lesion here
    decision = postprocess.decide([two, two], [two, two])
    assert not decision["keep_largest_component"]
    assert decision["val_dice"] == decision["val_dice_without"] == 1.0 > decision["val_dice_largest_component"]


@pytest.mark.verifies("SRS-COMP-004")
def test_rule_is_not_chosen_when_it_changes_nothing_or_is_switched_off():
    truths, masks = [_blobs(LESION)], [_blobs(LESION, ISLAND)]
    assert not postprocess.decide([_blobs(LESION)], truths)["keep_largest_component"]
    never = postprocess.decide(masks, truths, mode="never")
    assert not never["keep_largest_component"] and never["val_dice"] == never["val_dice_without"]


@pytest.mark.verifies("SRS-COMP-004")
def test_decide_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        postprocess.decide([], [], mode="always")
    with pytest.raises(ValueError, match="2 masks but 1"):
        postprocess.decide([_blobs(), _blobs()], [_blobs()])


@pytest.mark.verifies("SRS-COMP-004")
def test_apply_follows_the_spec_and_older_specs_mean_off():
    mask = _blobs(LESION, ISLAND)
    on, off = tiny.spec(3, keep_largest_component=True), tiny.spec(3)
    assert off.keep_largest_component is False  # files exported before the field existed
    np.testing.assert_array_equal(postprocess.apply(mask, on), _blobs(LESION))
    np.testing.assert_array_equal(postprocess.apply(mask, off), mask)
