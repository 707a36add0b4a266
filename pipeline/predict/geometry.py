"""The training preprocessing on one input, and its inverse for the prediction.

The forward chain is ``pipeline.preprocess.transforms.build`` itself (spacing, RAS orientation,
intensity normalisation, foreground crop), driven by the specification stored in the model
file, so inference preprocesses exactly as training did; it is fed float64 pixels (the type
``Spacingd`` resamples in) and its resampling grid is evaluated slab by slab
(``pipeline.predict.slab_grid``), which gives the same numbers bit for bit in a fraction of the
memory. MONAI records every step on the image's ``MetaTensor``; the inverse replays them
backwards on the class probabilities: MONAI's own inverses undo the crop (zero padding) and the
orientation (flips and permutations), and the spacing step, linear resampling back onto the
input grid, runs slab by slab (``pipeline.predict.resample``) whenever the recorded transform is
axis-aligned, each slab turned into mask voxels at once; ``Invertd``'s dense float64 grid (7 GB
on a 512x512x400 CT) remains the path for anything else. The mask is the argmax on the input grid.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd
from monai.transforms.inverse import InvertibleTransform
from monai.utils import TraceKeys

from pipeline.predict import resample, slab_grid
from pipeline.preprocess import transforms
from pipeline.runtime.spec import PreprocessingSpec

SPACING_RECORD = "SpatialResample"  # the class name ``Spacingd`` records its resampling under


def preprocess(array: np.ndarray | torch.Tensor, affine: np.ndarray,
               spec: PreprocessingSpec) -> tuple[dict, np.ndarray]:
    """Apply the training chain (on the image alone: there is no label) to a canonical array.

    The chain runs as built, its resampling grid evaluated slab by slab
    (``pipeline.predict.slab_grid``: the same numbers without the whole grid in memory).

    Args:
        array: spatial axes only, canonical order (RAS+ for 3D); or ``as_float64`` of it (the
            caller can then drop its own copy before the chain runs).
        affine: its index -> world affine.
        spec: the model's preprocessing specification.
    Returns:
        the MONAI data dict (kept for ``invert``) and the network input (1, *spatial) float32.
    """
    chain = transforms.build(spec, spec.spatial_dims, keys=("image",))
    world = torch.as_tensor(_affine4(affine), dtype=torch.float64)
    with slab_grid.slab_resampling():
        data = chain({"image": MetaTensor(as_float64(array)[None], affine=world)})
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
        excess = np.subtract(logits[1], logits[0])
        excess *= np.float32(0.5)
        np.tanh(excess, out=excess)
        excess -= np.float32(2.0 * threshold - 1.0)
        return to_input_mask(data, torch.from_numpy(excess[None]), _positive)
    probs = torch.softmax(torch.from_numpy(logits), dim=0)
    return to_input_mask(data, probs, _argmax)


def to_input_mask(data: dict, maps: torch.Tensor, decide) -> np.ndarray:
    """``decide`` (channels, *spatial) float32 -> mask, applied to ``maps`` carried back onto the input grid.

    The recorded steps after the spacing one (crop, orientation) are undone by MONAI's own
    inverses; the spacing step by ``resample.linear_slabs`` when its record is axis-aligned
    bilinear resampling with border padding (what ``Spacingd`` records), else by MONAI's.

    Args:
        data: the dict ``preprocess`` returned.
        maps: (channels, *spatial) in the preprocessed frame.
        decide: what a slab of maps on the input grid becomes (``> 0``, the argmax).
    """
    chain = data["_chain"]
    invertible = [t for t in chain.flatten().transforms if isinstance(t, InvertibleTransform)]
    image = data["image"]
    ops = image.applied_operations
    if not invertible or len(ops) != len(invertible) or ops[0].get(TraceKeys.CLASS_NAME) != SPACING_RECORD:
        return decide(_to_input_grid(data, maps))
    pred = MetaTensor(maps, meta=dict(image.meta))
    pred.applied_operations = [dict(op) for op in ops]
    spaced = pred
    if len(invertible) > 1:  # crop and orientation undone by MONAI
        inverter = Invertd(keys="pred", transform=Compose(invertible[1:]), orig_keys="image", nearest_interp=False)
        spaced = inverter({"pred": pred, "image": image})["pred"]
    plan = _spacing_plan(spaced)
    if plan is None:
        return decide(invertible[0].inverse({"image": spaced})["image"].as_tensor().numpy())
    scale, offset, shape = plan
    return resample.linear_slabs(spaced.as_tensor().numpy(), scale, offset, shape, decide)


def _spacing_plan(spaced: MetaTensor) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]] | None:
    """(scale, offset, input shape) of the recorded spacing step's inverse, or ``None`` when it is
    not axis-aligned bilinear resampling with border padding (the general path then runs)."""
    record = spaced.applied_operations[-1]
    extra = record[TraceKeys.EXTRA_INFO]
    corners = extra.get("align_corners")
    if record.get(TraceKeys.CLASS_NAME) != SPACING_RECORD or extra.get("mode") != "bilinear" \
            or extra.get("padding_mode") != "border" or corners not in (False, TraceKeys.NONE) \
            or record.get(TraceKeys.LAZY):
        return None
    dims = spaced.ndim - 1
    current = _affine_nd(spaced.peek_pending_affine(), dims)
    original = _affine_nd(extra["src_affine"], dims)
    try:
        xform = np.linalg.solve(current, original)  # input index -> spacing-grid index, as MONAI's inverse
    except np.linalg.LinAlgError:
        return None
    found = resample.axis_scales(xform)
    if found is None:
        return None
    return found[0], found[1], tuple(int(v) for v in record[TraceKeys.ORIG_SIZE])


def _positive(values: np.ndarray) -> np.ndarray:
    return (values[0] > 0).astype(np.uint8)


def _argmax(values: np.ndarray) -> np.ndarray:
    return values.argmax(0).astype(np.uint8)


def _to_input_grid(data: dict, maps: torch.Tensor) -> np.ndarray:
    """Replay the whole recorded preprocessing backwards on ``maps`` (channels, *spatial) with
    ``Invertd`` (dense grids: the reference, and the path for non-axis-aligned records)."""
    image = data["image"]
    pred = MetaTensor(maps, meta=dict(image.meta))
    pred.applied_operations = [dict(op) for op in image.applied_operations]
    inverter = Invertd(keys="pred", transform=data["_chain"], orig_keys="image", nearest_interp=False)
    return inverter({"pred": pred, "image": image})["pred"].as_tensor().numpy()


def as_float64(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The image as float64, the dtype ``Spacingd`` resamples in: handing it over already converted
    saves a float32 copy beside the float64 one. Values are first what a float32 image holds
    (as in training); those convert to float64 exactly, so the chain computes the same numbers."""
    if isinstance(array, torch.Tensor) and array.dtype == torch.float64:
        return array
    array = np.asarray(array)
    if not (array.dtype == np.float32 or (np.issubdtype(array.dtype, np.integer) and array.dtype.itemsize <= 2)):
        array = array.astype(np.float32)  # the float32 image training sees (exact from here on)
    out = torch.empty(array.shape, dtype=torch.float64)
    out.numpy()[...] = array
    return out


def _affine_nd(affine, dims: int) -> np.ndarray:
    """A (dims + 1) square affine from MONAI's 4x4 one (the spatial block and translation)."""
    affine = np.asarray(affine.numpy() if isinstance(affine, torch.Tensor) else affine, dtype=np.float64)
    if affine.shape[0] == dims + 1:
        return affine
    out = np.eye(dims + 1)
    out[:dims, :dims] = affine[:dims, :dims]
    out[:dims, dims] = affine[:dims, -1]
    return out


def _affine4(affine: np.ndarray) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape == (4, 4):
        return affine
    full = np.eye(4)
    full[:2, :2] = affine[:2, :2]
    full[:2, 3] = affine[:2, 2]
    return full
