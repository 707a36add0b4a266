"""The MONAI transform chain applied to every case (the same chain ``predict`` must apply)."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    CropForegroundd,
    NormalizeIntensityd,
    Orientationd,
    ScaleIntensityRanged,
    Spacingd,
)

from pipeline.data.case import Case
from pipeline.preprocess.params import PreprocessParams

KEYS = ("image", "label")


MODES = {"image": "bilinear", "label": "nearest"}


def build(params: PreprocessParams, spatial_dims: int, keys: tuple[str, ...] = KEYS) -> Compose:
    """Spacing -> orientation (3D, RAS) -> intensity normalisation -> foreground crop.

    Args:
        params: the ``preprocess`` section.
        spatial_dims: 2 or 3, from the data.
        keys: the arrays transformed: image and label in training; the image alone in
            ``predict`` (a zero label as large as the input would double its memory).
    """
    spacing = params.target_spacing_mm
    if len(spacing) != spatial_dims:
        raise ValueError(f"target_spacing_mm has {len(spacing)} values, the data is {spatial_dims}D")
    keys = tuple(keys)
    steps = [Spacingd(keys=keys, pixdim=spacing, mode=tuple(MODES[k] for k in keys))]
    if spatial_dims == 3:
        steps.append(Orientationd(keys=keys, axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))))
    steps.append(intensity(params))
    if params.crop_foreground:
        threshold = params.crop_threshold
        steps.append(CropForegroundd(keys=keys, source_key="image", margin=params.crop_margin,
                                     select_fn=lambda x: x > threshold, allow_smaller=True))
    return Compose(steps)


def intensity(params: PreprocessParams):
    """The intensity transform from params (CT window or z-score), on the image only."""
    norm = params.normalisation
    if norm.kind == "ct_window":
        return ScaleIntensityRanged(keys="image", a_min=norm.low, a_max=norm.high, b_min=0.0,
                                    b_max=1.0, clip=True)
    return NormalizeIntensityd(keys="image", nonzero=norm.nonzero)


def apply(chain: Compose, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``chain`` on a case; return image (1, ...) float32, label (1, ...) uint8, affine."""
    affine = _affine4(case.affine)
    data = {
        "image": MetaTensor(torch.from_numpy(case.image[None].astype(np.float32)), affine=affine),
        "label": MetaTensor(torch.from_numpy(case.label[None].astype(np.float32)), affine=affine),
    }
    out = chain(data)
    image = out["image"].as_tensor().numpy().astype(np.float32)
    label = np.rint(out["label"].as_tensor().numpy()).astype(np.uint8)
    return image, label, out["image"].affine.numpy()


def _affine4(affine: np.ndarray) -> torch.Tensor:
    if affine.shape == (4, 4):
        return torch.as_tensor(affine, dtype=torch.float64)
    full = np.eye(4)
    full[:2, :2] = affine[:2, :2]
    full[:2, 3] = affine[:2, 2]
    return torch.as_tensor(full, dtype=torch.float64)
