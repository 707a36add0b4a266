"""Intensity augmentation of training patches: image only, seeded, off at prob 0 (SRS-TRAIN-001)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

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


@pytest.mark.verifies("SRS-TRAIN-001")
def test_the_loader_gives_plain_tensors_with_the_values_metatensors_have_and_restores_the_setting(monkeypatch):
    import contextlib

    from monai.data import MetaTensor, get_track_meta, set_track_meta

    from pipeline.recipe import patches

    params = train_params(epochs=1, augment={"prob": 1.0})
    cases = [SimpleNamespace(**_case(seed)) for seed in range(4)]

    def epoch() -> list[dict]:
        torch.manual_seed(0)  # MONAI's loader seeds its transforms from torch's generator, as pinned in a stage
        loader = patches.train_loader(cases, params, params.network.spatial_dims, seed=3)
        loader.sampler.set_epoch(1)
        return list(loader)

    plain = epoch()
    assert get_track_meta()  # restored after the epoch
    assert all(type(v) is not MetaTensor for batch in plain for v in batch.values())
    monkeypatch.setattr(patches, "plain_tensors", contextlib.nullcontext)  # MetaTensors inside the transforms
    tracked = epoch()
    for a, b in zip(plain, tracked, strict=True):
        for key in ("image", "label"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())  # the same values, bit for bit
    monkeypatch.undo()
    set_track_meta(True)
    with pytest.raises(RuntimeError), patches.plain_tensors():
        assert not get_track_meta()
        raise RuntimeError("interrupted")
    assert get_track_meta()  # restored after an error too
