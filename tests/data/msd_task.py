"""A tiny Medical Segmentation Decathlon task, generated: the MSD-layout input of the tests."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np


def make_msd_task(root: Path, count: int = 8, shape: tuple[int, int, int] = (24, 24, 12),
                  lesion: bool = False) -> Path:
    """An MSD-layout task (dataset.json, imagesTr/, labelsTr/) of ``count`` volumes with a bright ellipsoid
    (label 1); with ``lesion`` a brighter ellipsoid inside it is label 2 (an organ and its lesion, as
    Task03_Liver labels liver 1 and tumour 2). The organ's volumes are the same either way."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    pairs = []
    for index in range(count):
        centre = rng.uniform(6, np.array(shape) - 6).reshape(3, 1, 1, 1)
        organ = (((grid - centre) / np.array([4, 4, 2]).reshape(3, 1, 1, 1)) ** 2).sum(0) <= 1
        label = organ.astype(np.uint8)
        image = (100 + 300 * organ + rng.normal(0, 20, shape)).astype(np.float32)
        if lesion:  # a 2-voxel-radius ball in the organ's centre, half again as bright
            inner = (((grid - centre) / np.array([2, 2, 1]).reshape(3, 1, 1, 1)) ** 2).sum(0) <= 1
            label[inner & organ] = 2
            image[inner & organ] += 300
        for folder, array in (("imagesTr", image), ("labelsTr", label)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(array, affine), str(root / folder / f"tiny_{index:03d}.nii.gz"))
        pairs.append({"image": f"./imagesTr/tiny_{index:03d}.nii.gz", "label": f"./labelsTr/tiny_{index:03d}.nii.gz"})
    labels = {"0": "background", "1": "organ", **({"2": "lesion"} if lesion else {})}
    (root / "dataset.json").write_text(json.dumps({"name": "tiny", "labels": labels, "training": pairs}))
    return root
