"""The training preprocessing on one input, and its inverse for the prediction.

The forward chain is ``pipeline.preprocess.transforms.build`` itself (spacing, RAS orientation,
intensity normalisation, foreground crop), driven by the specification stored in the model
file, so inference preprocesses exactly as training did. MONAI records every step on the
image's ``MetaTensor``; ``Invertd`` replays them backwards on the class probabilities
(crop -> zero padding, spacing -> linear resampling back onto the input grid), and the mask
is the argmax on the input grid.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Invertd

from pipeline.runtime.spec import PreprocessingSpec
from pipeline.preprocess import transforms


def preprocess(array: np.ndarray, affine: np.ndarray, spec: PreprocessingSpec) -> tuple[dict, np.ndarray]:
    """Apply the training chain to a canonical array.

    Args:
        array: spatial axes only, canonical order (RAS+ for 3D).
        affine: its index -> world affine.
        spec: the model's preprocessing specification.
    Returns:
        the MONAI data dict (kept for ``invert``) and the network input (1, *spatial) float32.
    """
    chain = transforms.build(spec, spec.spatial_dims)
    world = torch.as_tensor(_affine4(affine), dtype=torch.float64)
    image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None], affine=world)
    label = MetaTensor(torch.zeros_like(image.as_tensor()), affine=world)
    data = chain({"image": image, "label": label})
    data["_chain"] = chain
    return data, data["image"].as_tensor().numpy().astype(np.float32)


def invert(data: dict, logits: np.ndarray) -> np.ndarray:
    """Class probabilities back on the input grid, then the argmax mask (uint8, spatial only).

    Args:
        data: the dict ``preprocess`` returned.
        logits: (classes, *spatial) in the preprocessed frame.
    """
    probs = torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), dim=0)
    image = data["image"]
    pred = MetaTensor(probs, meta=dict(image.meta))
    pred.applied_operations = [dict(op) for op in image.applied_operations]
    inverter = Invertd(keys="pred", transform=data["_chain"], orig_keys="image", nearest_interp=False)
    restored = inverter({"pred": pred, "image": image})["pred"]
    return restored.as_tensor().numpy().argmax(0).astype(np.uint8)


def _affine4(affine: np.ndarray) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape == (4, 4):
        return affine
    full = np.eye(4)
    full[:2, :2] = affine[:2, :2]
    full[:2, 3] = affine[:2, 2]
    return full
