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
    """Apply the training chain (on the image alone: there is no label) to a canonical array.

    Args:
        array: spatial axes only, canonical order (RAS+ for 3D).
        affine: its index -> world affine.
        spec: the model's preprocessing specification.
    Returns:
        the MONAI data dict (kept for ``invert``) and the network input (1, *spatial) float32.
    """
    chain = transforms.build(spec, spec.spatial_dims, keys=("image",))
    world = torch.as_tensor(_affine4(affine), dtype=torch.float64)
    image = MetaTensor(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None], affine=world)
    data = chain({"image": image})
    data["_chain"] = chain
    return data, data["image"].as_tensor().numpy().astype(np.float32, copy=False)


def invert(data: dict, logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class probabilities back on the input grid, then the mask (uint8, spatial only).

    For two classes only one map goes back: the foreground probability's excess over the
    model's operating point ``t``, ``(p1 - p0) - (2 t - 1) = 2 (p1 - t)`` (``p1 - p0`` is the
    ``tanh`` of half the logit difference), and ``> 0`` is the mask. Resampling is linear, so the
    inverted map is exactly the inverted probability's excess; the padding that undoes the
    foreground crop is zero, which ``> 0`` reads as background whatever ``t`` (padding ``p1 - p0``
    itself would read as ``p1 = 0.5``, foreground for any ``t < 0.5``). At ``t = 0.5`` this is the
    two-channel argmax (ties to background in both), with half the memory on large inputs. More
    classes take the argmax of the inverted probabilities.

    Args:
        data: the dict ``preprocess`` returned.
        logits: (classes, *spatial) in the preprocessed frame.
        threshold: the model's foreground operating point (``spec.foreground_threshold``).
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.shape[0] == 2:
        excess = (np.tanh(0.5 * (logits[1] - logits[0])) - np.float32(2.0 * threshold - 1.0))[None]
        return (_to_input_grid(data, torch.from_numpy(excess))[0] > 0).astype(np.uint8)
    probs = torch.softmax(torch.from_numpy(logits), dim=0)
    return _to_input_grid(data, probs).argmax(0).astype(np.uint8)


def _to_input_grid(data: dict, maps: torch.Tensor) -> np.ndarray:
    """Replay the recorded preprocessing backwards on ``maps`` (channels, *spatial)."""
    image = data["image"]
    pred = MetaTensor(maps, meta=dict(image.meta))
    pred.applied_operations = [dict(op) for op in image.applied_operations]
    inverter = Invertd(keys="pred", transform=data["_chain"], orig_keys="image", nearest_interp=False)
    return inverter({"pred": pred, "image": image})["pred"].as_tensor().numpy()


def _affine4(affine: np.ndarray) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape == (4, 4):
        return affine
    full = np.eye(4)
    full[:2, :2] = affine[:2, :2]
    full[:2, 3] = affine[:2, 2]
    return full
