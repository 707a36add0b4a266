"""Largest-component post-processing: the rule and the spec flag that switches it on (SRS-COMP-004)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.runtime import postprocess
from tests.export import tiny
from tests.runtime.masks import ISLAND, LESION, blobs


@pytest.mark.verifies("SRS-COMP-004")
def test_far_island_is_removed_and_the_lesion_kept():
    out = postprocess.keep_largest_component(blobs(LESION, ISLAND))
    np.testing.assert_array_equal(out, blobs(LESION))
    assert out.dtype == np.uint8


@pytest.mark.verifies("SRS-COMP-004")
def test_voxels_touching_at_a_corner_are_one_component():
    mask = blobs(LESION, np.s_[8:9, 8:9, 6:7])  # touches the lesion's corner voxel diagonally
    np.testing.assert_array_equal(postprocess.keep_largest_component(mask), mask)


@pytest.mark.verifies("SRS-COMP-004")
@pytest.mark.parametrize("mask", [blobs(), blobs(LESION)])
def test_empty_or_single_component_masks_are_unchanged(mask):
    np.testing.assert_array_equal(postprocess.keep_largest_component(mask), mask)


@pytest.mark.verifies("SRS-COMP-004")
def test_apply_follows_the_spec_and_older_specs_mean_off():
    mask = blobs(LESION, ISLAND)
    on, off = tiny.spec(3, keep_largest_component=True), tiny.spec(3)
    assert off.keep_largest_component is False  # files exported before the field existed
    np.testing.assert_array_equal(postprocess.apply(mask, on), blobs(LESION))
    np.testing.assert_array_equal(postprocess.apply(mask, off), mask)


@pytest.mark.verifies("SRS-COMP-004")
def test_decide_is_the_operating_point_then_the_rule():
    """From logits: foreground where its probability exceeds the spec's threshold, then the
    largest-component rule; what predict and V&V both call."""
    probability = np.where(blobs(LESION, ISLAND) > 0, 0.4, 0.1).astype(np.float32)
    probability[blobs(LESION) > 0] = 0.6            # the lesion confident, the island at 0.4
    logits = np.stack([np.zeros_like(probability), np.log(probability / (1 - probability))])
    at_half = tiny.spec(3, keep_largest_component=False).model_copy(update={"foreground_threshold": 0.5})
    at_low = at_half.model_copy(update={"foreground_threshold": 0.3})
    np.testing.assert_array_equal(postprocess.decide(logits, at_half), blobs(LESION))
    np.testing.assert_array_equal(postprocess.decide(logits, at_low), blobs(LESION, ISLAND))
    with_rule = at_low.model_copy(update={"keep_largest_component": True})
    np.testing.assert_array_equal(postprocess.decide(logits, with_rule), blobs(LESION))
