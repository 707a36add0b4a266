"""A tiny Medical Segmentation Decathlon task, generated: the MSD-layout input of the tests."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np


def make_msd_task(root: Path, count: int = 8, shape: tuple[int, int, int] = (24, 24, 12)) -> Path:
    """An MSD-layout task (dataset.json, imagesTr/, labelsTr/) of ``count`` volumes with a bright ellipsoid."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    pairs = []
    for index in range(count):
        centre = rng.uniform(6, np.array(shape) - 6).reshape(3, 1, 1, 1)
        label = (((grid - centre) / np.array([4, 4, 2]).reshape(3, 1, 1, 1)) ** 2).sum(0) <= 1
        image = (100 + 300 * label + rng.normal(0, 20, shape)).astype(np.float32)
        for folder, array in (("imagesTr", image), ("labelsTr", label.astype(np.uint8))):
            (root / folder).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(array, affine), str(root / folder / f"tiny_{index:03d}.nii.gz"))
        pairs.append({"image": f"./imagesTr/tiny_{index:03d}.nii.gz", "label": f"./labelsTr/tiny_{index:03d}.nii.gz"})
    (root / "dataset.json").write_text(json.dumps({"name": "tiny", "training": pairs}))
    return root
