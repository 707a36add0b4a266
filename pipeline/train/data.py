"""Training data: balanced random patches from train cases, whole val cases for sliding windows.

Only the ``train`` and ``val`` splits are loaded (``pipeline.preprocess.cache.load_cases``
refuses the locked test split), so neither training nor model selection can see it.
"""

from __future__ import annotations

from pathlib import Path

import json
import torch
from monai.data import DataLoader, Dataset, list_data_collate
from monai.transforms import (
    Compose,
    EnsureTyped,
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

from pipeline.preprocess.cache import load_cases
from pipeline.train.params import AugmentParams, TrainParams

KEYS = ("image", "label")
TRAINING_SPLITS = ["train", "val"]


def load_training_cases(cache_dir: Path, splits_path: Path) -> tuple[list[dict], list[dict], dict]:
    """The train and val cases (verified by SHA-256) and the splits record; never the test split."""
    splits = json.loads(Path(splits_path).read_text())
    loaded = load_cases(Path(cache_dir), splits, TRAINING_SPLITS)
    return loaded["train"], loaded["val"], splits


def patch_transforms(params: TrainParams, seed: int) -> Compose:
    """Pad to the patch size, draw foreground/background-balanced patches, optional flips and
    intensity augmentation.

    Args:
        params: the ``train`` section.
        seed: the random state of the transforms (differs per DDP rank).
    """
    steps = [
        SpatialPadd(keys=KEYS, spatial_size=params.patch_size),
        RandCropByPosNegLabeld(keys=KEYS, label_key="label", spatial_size=params.patch_size,
                               pos=params.pos_neg_ratio, neg=1.0, num_samples=params.patches_per_case),
    ]
    if params.flip_prob > 0:
        steps += [RandFlipd(keys=KEYS, prob=params.flip_prob, spatial_axis=axis)
                  for axis in range(params.network.spatial_dims)]
    steps += intensity_augmentation(params.augment)
    steps.append(EnsureTyped(keys=KEYS, dtype=(torch.float32, torch.long), track_meta=False))
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


def train_loader(cases: list[dict], params: TrainParams, rank: int, world_size: int) -> DataLoader:
    """A deterministic loader over the train cases, sharded across DDP ranks.

    Args:
        cases: train cases with ``image`` and ``label`` arrays (channel first).
        params: the ``train`` section.
        rank: this process's rank.
        world_size: number of processes.
    """
    items = [{"image": case["image"], "label": case["label"]} for case in cases]
    dataset = Dataset(items, transform=patch_transforms(params, params.seed + 7919 * rank))
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=params.seed, drop_last=False)
    return DataLoader(dataset, batch_size=params.cases_per_batch, sampler=sampler, num_workers=0,
                      collate_fn=list_data_collate)


def val_tensors(cases: list[dict]) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Each val case as (case_id, image (1, C, ...), label (1, 1, ...))."""
    return [(case["case_id"], torch.from_numpy(case["image"])[None].float(),
             torch.from_numpy(case["label"].astype("int64"))[None]) for case in cases]
