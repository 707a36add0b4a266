"""Training data: balanced random patches from train cases, whole val cases for sliding windows.

Only the ``train`` and ``val`` splits are loaded (``pipeline.data.cache.load_cases``
refuses the locked test split), so neither training nor model selection can see it.
Extra per-voxel arrays (a teacher's logits for distillation) are cropped together with the
image and label, and are never augmented: augmentation changes only the image.
The patches are plain torch tensors, not MONAI ``MetaTensor``s (``plain_tensors``): training
needs no affine or transform history, and carrying them cost more than the crops themselves.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Sequence

import torch
from monai.data import CacheDataset, DataLoader, get_track_meta, list_data_collate, set_track_meta
from monai.transforms import (
    Compose,
    EnsureTyped,
    FgBgToIndicesd,
    RandAdjustContrastd,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    RandScaleIntensityd,
    RandShiftIntensityd,
    SpatialPadd,
)
from torch.utils.data.distributed import DistributedSampler

from pipeline.data.cache import LoadedCase, load_cases
from pipeline.preprocess.records import SplitsRecord, load_splits
from pipeline.recipe.params import AugmentParams, RecipeParams

KEYS = ("image", "label")
TRAINING_SPLITS = ["train", "val"]
FG, BG = "label_fg_indices", "label_bg_indices"


def load_training_cases(cache_dir: Path,
                        splits_path: Path) -> tuple[list[LoadedCase], list[LoadedCase], SplitsRecord]:
    """The train and val cases (verified by SHA-256) and the splits record; never the test split."""
    splits = load_splits(Path(splits_path))
    loaded = load_cases(Path(cache_dir), splits, TRAINING_SPLITS)
    return loaded["train"], loaded["val"], splits


def patch_transforms(recipe: RecipeParams, spatial_dims: int, seed: int,
                     extra_keys: Sequence[str] = ()) -> Compose:
    """Pad to the patch size, draw foreground/background-balanced patches, optional flips and
    intensity augmentation.

    The foreground and background voxel indices are computed once per case by the
    deterministic head of the chain (``FgBgToIndicesd``), which ``train_loader`` caches; the
    crops drawn from them are the ones ``RandCropByPosNegLabeld`` would draw computing them
    itself, at a quarter of the cost of an epoch of a small network.

    Args:
        recipe: the training recipe (patch size, balance, flips, augmentation).
        spatial_dims: 2 or 3.
        seed: the random state of the transforms (differs per DDP rank).
        extra_keys: float arrays cropped and flipped with the image (e.g. ``teacher`` logits).
    """
    keys = (*KEYS, *extra_keys)
    steps = [
        EnsureTyped(keys=keys, track_meta=False),  # plain tensors: MONAI's crops skip their metadata work
        SpatialPadd(keys=keys, spatial_size=recipe.patch_size),
        FgBgToIndicesd(keys="label"),
        RandCropByPosNegLabeld(keys=keys, label_key="label", spatial_size=recipe.patch_size,
                               pos=recipe.pos_neg_ratio, neg=1.0, num_samples=recipe.patches_per_case,
                               fg_indices_key=FG, bg_indices_key=BG),
    ]
    if recipe.flip_prob > 0:
        steps += [RandFlipd(keys=keys, prob=recipe.flip_prob, spatial_axis=axis) for axis in range(spatial_dims)]
    steps += intensity_augmentation(recipe.augment)
    dtypes = (torch.float32, torch.long, *([torch.float32] * len(extra_keys)))
    steps.append(EnsureTyped(keys=keys, dtype=dtypes, track_meta=False))
    chain = Compose(steps)
    chain.set_random_state(seed=seed)
    return chain


def intensity_augmentation(params: AugmentParams) -> list:
    """MONAI intensity transforms on the image only (noise, blur, brightness, contrast); [] when off."""
    if params.prob <= 0:
        return []
    prob, image = params.prob, ["image"]
    sigma = tuple(params.smooth_sigma)
    return [
        RandGaussianNoised(keys=image, prob=prob, mean=0.0, std=params.noise_std, sample_std=True),
        RandGaussianSmoothd(keys=image, prob=prob, sigma_x=sigma, sigma_y=sigma, sigma_z=sigma),
        RandScaleIntensityd(keys=image, prob=prob, factors=params.scale),
        RandShiftIntensityd(keys=image, prob=prob, offsets=params.shift),
        RandAdjustContrastd(keys=image, prob=prob, gamma=tuple(params.gamma)),
    ]


@contextlib.contextmanager
def plain_tensors():
    """MONAI's transforms return plain torch tensors inside (``set_track_meta(False)``), the
    previous setting after.

    A ``MetaTensor`` carries its affine and transform history through every crop and every
    operation, through the network too when the batch is one. For the default student's epoch
    that cost 22 of 100 ms a step in the loader and 8 ms more in the forward, loss and backward
    passes (2 cores, torch 2.13); the values computed are the same, bit for bit (weights hashed
    after two epochs with and without).
    """
    before = get_track_meta()
    set_track_meta(False)
    try:
        yield
    finally:
        set_track_meta(before)


class PlainLoader(DataLoader):
    """A ``DataLoader`` whose transforms run under ``plain_tensors`` while it is iterated."""

    def __iter__(self):
        with plain_tensors():
            yield from super().__iter__()


def train_loader(cases: list[LoadedCase], recipe: RecipeParams, spatial_dims: int, seed: int, rank: int = 0,
                 world_size: int = 1, extra: dict[str, list] | None = None) -> DataLoader:
    """A deterministic loader over the train cases, sharded across DDP ranks.

    Args:
        cases: the train cases (their ``image`` and ``label`` arrays, channel first).
        recipe: the training recipe.
        spatial_dims: 2 or 3.
        seed: the run's seed (the transforms get ``seed + 7919 * rank``).
        rank: this process's rank.
        world_size: number of processes.
        extra: further per-case arrays by key (one per case, channel first), cropped with the image.
    """
    extra = extra or {}
    items = [transform_item(case, {k: v[i] for k, v in extra.items()}) for i, case in enumerate(cases)]
    chain = patch_transforms(recipe, spatial_dims, seed + 7919 * rank, tuple(extra))
    # caches the deterministic head (padding, voxel indices); the random crops never modify the
    # cached arrays in place, so they need no copy
    with plain_tensors():
        dataset = CacheDataset(items, transform=chain, cache_rate=1.0, num_workers=0, progress=False,
                               copy_cache=False)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed, drop_last=False)
    return PlainLoader(dataset, batch_size=recipe.cases_per_batch, sampler=sampler, num_workers=0,
                       collate_fn=list_data_collate)


def transform_item(case: LoadedCase, extra: dict | None = None) -> dict:
    """The dict MONAI's dictionary transforms (``patch_transforms``) take for one case: its
    ``image`` and ``label`` arrays (``KEYS``) and any further arrays by key (teacher logits)."""
    return {"image": case.image, "label": case.label, **(extra or {})}


def val_tensors(cases: list[LoadedCase]) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Each val case as (case_id, image (1, C, ...), label (1, 1, ...))."""
    return [(case.case_id, torch.from_numpy(case.image)[None].float(),
             torch.from_numpy(case.label.astype("int64"))[None]) for case in cases]
