"""Intensity augmentation of training patches: image only, seeded, off at prob 0 (SRS-TRAIN-001)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.recipe.patches import intensity_augmentation, patch_transforms
from pipeline.recipe.params import AugmentParams
from tests.data.tiny import train_params


def _case(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    label = np.zeros((1, 24, 24, 16), dtype=np.uint8)
    label[:, 8:16, 8:16, 4:12] = 1
    image = (0.3 + 0.4 * label + rng.normal(0, 0.02, label.shape)).astype(np.float32)
    return {"image": image, "label": label}


def _patches(augment: dict, seed: int = 5) -> list[dict]:
    params = train_params(epochs=1, augment=augment)
    return patch_transforms(params, params.network.spatial_dims, seed)(_case())


@pytest.mark.verifies("SRS-TRAIN-001")
def test_augmentation_changes_images_only_and_is_seeded():
    plain, augmented, again = _patches({"prob": 0.0}), _patches({"prob": 1.0}), _patches({"prob": 1.0})
    for a, b, c in zip(plain, augmented, again):
        assert not np.allclose(a["image"].numpy(), b["image"].numpy())
        np.testing.assert_array_equal(a["label"].numpy(), b["label"].numpy())  # same crops, labels intact
        np.testing.assert_array_equal(b["image"].numpy(), c["image"].numpy())  # same seed, same patches


@pytest.mark.verifies("SRS-TRAIN-001")
def test_prob_zero_adds_no_transform_and_bad_ranges_are_refused():
    assert intensity_augmentation(AugmentParams(prob=0.0)) == []
    assert len(intensity_augmentation(AugmentParams(prob=0.2))) == 5
    with pytest.raises(ValueError, match="gamma"):
        AugmentParams(prob=0.1, gamma=[1.5, 0.7])
