"""Sliding-window inference over a preprocessed volume, in NumPy around a batch function.

``predict_volume(model, volume, spec)`` works in the preprocessed frame (target spacing, RAS,
normalised, cropped): it cuts MONAI's window grid (``spec.patch_size``, ``spec.sw_overlap``),
runs ``spec.sw_batch_size`` windows per call of ``model`` (an ``OnnxModel``, an ``Engine`` or
any callable on batches) and blends them with MONAI's Gaussian map; the result equals
``monai.inferers.sliding_window_inference`` bit for bit. The NumPy aggregation avoids MONAI's
per-call overhead, which on a 2-core CPU costs more than the compressed network itself.
``torch_predict_volume`` runs the same windows through a PyTorch module (the parity reference
and the torch-eager baseline of the benchmarks).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
from monai.data.utils import compute_importance_map, dense_patch_slices

from pipeline.core.errors import UserError
from pipeline.runtime.spec import WindowSpec


def predict_volume(model: Callable[[np.ndarray], np.ndarray], volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Sliding-window logits (classes, *spatial) float32 of one preprocessed volume.

    Args:
        model: (N, C, *patch) float32 -> (N, classes, *patch) logits.
        volume: (channels, *spatial) float array in the preprocessed frame.
        spec: the window settings (a ``PreprocessingSpec`` or ``WindowSpec``).
    """
    return sliding_logits(model, volume, spec)


def torch_predict_volume(module: torch.nn.Module, volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """The same sliding windows through a PyTorch module (on the module's device)."""
    module = module.eval()
    device = next(module.parameters()).device if any(True for _ in module.parameters()) else torch.device("cpu")

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return sliding_logits(run, volume, spec)


def sliding_logits(run: Callable[[np.ndarray], np.ndarray], volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """MONAI's sliding-window inference around a batch function.

    The window grid (``monai.data.utils.dense_patch_slices`` with MONAI's scan interval), the
    zero padding of short axes and the Gaussian blending map (``compute_importance_map``,
    clamped as MONAI does) are MONAI's.

    Args:
        run: (N, C, *patch) float32 -> (N, classes, *patch) logits.
        volume: (channels, *spatial), validated by ``check_volume``.
        spec: patch size, overlap and windows per call.
    """
    volume = check_volume(volume, spec)
    roi, shape = list(spec.patch_size), volume.shape[1:]
    pads = [(max(r - n, 0) // 2, max(r - n, 0) - max(r - n, 0) // 2) for r, n in zip(roi, shape)]
    padded = np.pad(volume, [(0, 0), *pads])
    size = padded.shape[1:]
    interval = [r if r == n else max(int(r * (1 - spec.sw_overlap)), 1) for r, n in zip(roi, size)]
    windows = dense_patch_slices(size, roi, interval)
    weight = blending_weights(tuple(roi))
    out, count = None, np.zeros(size, dtype=np.float32)
    for start in range(0, len(windows), spec.sw_batch_size):
        group = windows[start:start + spec.sw_batch_size]
        logits = np.asarray(run(np.stack([padded[(slice(None), *w)] for w in group])), dtype=np.float32)
        if out is None:
            out = np.zeros((logits.shape[1], *size), dtype=np.float32)
        for window, patch in zip(group, logits):
            out[(slice(None), *window)] += patch * weight
            count[window] += weight
    out /= count
    crop = tuple(slice(low, low + n) for (low, _), n in zip(pads, shape))
    return out[(slice(None), *crop)]


@functools.lru_cache(maxsize=8)
def blending_weights(patch_size: tuple[int, ...]) -> np.ndarray:
    """MONAI's Gaussian blending map for one window (sigma 0.125 x size), clamped as MONAI does."""
    weight = compute_importance_map(list(patch_size), mode="gaussian", sigma_scale=0.125, device="cpu")
    weight = weight.to(torch.float32)
    floor = max(float(weight[weight != 0].min()), 1e-3)
    return torch.clamp(weight, min=floor).numpy()


def to_mask(logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class index per voxel (uint8) from logits (classes, *spatial).

    With two classes a voxel is foreground when its foreground probability exceeds
    ``threshold`` (the model's operating point): ``softmax(l)[1] > t`` is
    ``l1 - l0 > log(t / (1 - t))``, so no probabilities are formed; at 0.5 this is the argmax
    (ties go to background in both). More classes take the argmax and accept only 0.5.
    """
    logits = np.asarray(logits)
    if logits.shape[0] == 2:
        return (logits[1] - logits[0] > margin_of(threshold)).astype(np.uint8)
    if threshold != 0.5:
        raise ValueError(f"a threshold ({threshold}) applies only to two-class logits, not {logits.shape[0]} classes")
    return logits.argmax(0).astype(np.uint8)


def decision_differences(reference: np.ndarray, other: np.ndarray, threshold: float = 0.5,
                         atol: float = 0.0) -> tuple[int, int]:
    """Voxels whose class differs between two logit maps ``(classes, *spatial)``: (mismatches, ties).

    A voxel that differs is a tie, not a mismatch, when the reference's own decision lies within
    ``2 * atol`` of the operating point: for two classes ``|l1 - l0 - margin_of(threshold)|``,
    for more the gap between its two largest logits. Logits that may each differ by ``atol`` (the
    parity gate's logit tolerance) move a decision margin by up to ``2 * atol``, so a voxel
    sitting on the threshold (the released student had one of 5.4 million validation voxels
    4.2e-7 from it) is not read as the file computing another function; any voxel decided more
    clearly than that must agree. ``atol = 0``: every change counts.
    """
    reference, other = np.asarray(reference), np.asarray(other)
    differ = to_mask(reference, threshold) != to_mask(other, threshold)
    if reference.shape[0] == 2:
        certainty = np.abs(reference[1] - reference[0] - margin_of(threshold))
    else:
        top = np.sort(reference, axis=0)
        certainty = top[-1] - top[-2]
    ties = differ & (certainty <= 2 * atol)
    return int(differ.sum() - ties.sum()), int(ties.sum())


def margin_of(threshold: float) -> float:
    """The logit difference ``l1 - l0`` at which the foreground probability equals ``threshold``."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be inside (0, 1), not {threshold}")
    return float(np.log(threshold / (1.0 - threshold)))


def check_volume(volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Return ``volume`` as contiguous float32, or raise ``UserError`` naming what is wrong."""
    volume = np.asarray(volume)
    if not (np.issubdtype(volume.dtype, np.floating) or np.issubdtype(volume.dtype, np.integer)) \
            or volume.dtype == np.bool_:
        raise UserError(f"input dtype {volume.dtype} is not supported: expected real numbers (float or int)")
    expected = spec.spatial_dims + 1
    if volume.ndim != expected or volume.shape[0] != spec.in_channels:
        raise UserError(f"input shape {tuple(volume.shape)} is not supported: expected {expected} axes "
                        f"(channels={spec.in_channels}, then {spec.spatial_dims} spatial axes)")
    if min(volume.shape[1:]) < 1:
        raise UserError(f"input shape {tuple(volume.shape)} has an empty spatial axis")
    volume = np.ascontiguousarray(volume, dtype=np.float32)
    if not np.isfinite(volume).all():
        bad = int((~np.isfinite(volume)).sum())
        raise UserError(f"input contains {bad} NaN or infinite value(s): refusing to predict")
    return volume
