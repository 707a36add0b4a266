"""Segmentation metrics in physical units, with defined behaviour for empty masks.

All functions take two binary masks on the same grid and the voxel spacing in mm per
array axis. Surface distances come from MONAI (``compute_hausdorff_distance``,
``compute_surface_dice``), which take the spacing into account. MONAI returns NaN or inf
when a mask is empty; here every case has a defined value:

============================  =========================  ==================================
metric                        both masks empty           exactly one mask empty
============================  =========================  ==================================
dice                          1.0 (perfect agreement)    0.0
hd95_mm                       0.0                        the grid's diagonal in mm (worst)
nsd                           1.0                        0.0
sensitivity                   NaN (no positives)         0.0 if truth has voxels, else NaN
specificity                   NaN only without negatives  TN / (TN + FP)
abs_volume_error_ml           0.0                        the non-empty volume
============================  =========================  ==================================

NaN means "not defined for this case"; aggregates (``pipeline.core.bootstrap``) leave such
cases out and report how many were used.

A multi-class label map (more than one foreground class) is measured class by class
(``class_metrics``): every metric of each class (``pred == c`` against ``truth == c``) under the
key ``metric[class]``, and under the plain key the mean over the foreground classes (NaN values
left out; the volumes are the sum: the whole foreground). A binary map keeps the plain keys only,
which are its one class's values.

2D images (spacing of two values) get every metric with 2D surfaces (HD95 and NSD in mm in the
image plane), except the volumes: a 2D image has no volume, so ``abs_volume_error_ml`` and the
two volumes are NaN there, and ``undefined_metrics(2)`` says why (the criteria on such a metric
are judged not applicable, see ``pipeline.verify.criteria``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Sequence

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance, compute_surface_dice

from pipeline.runtime.metrics import dice

METRICS = ("dice", "hd95_mm", "nsd", "sensitivity", "specificity", "abs_volume_error_ml")
VOLUME_METRICS = ("abs_volume_error_ml",)  # need a third axis: not defined on 2D images


def undefined_metrics(spatial_dims: int) -> dict[str, str]:
    """Metric -> why images of ``spatial_dims`` dimensions do not define it (none for 3D)."""
    if spatial_dims == 3:
        return {}
    return {name: f"is a volume (mL), which {spatial_dims}D images do not have" for name in VOLUME_METRICS}


def hd95_mm(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """Symmetric 95th-percentile Hausdorff distance between the mask surfaces, in mm.

    Args:
        pred: predicted binary mask.
        truth: ground-truth binary mask.
        spacing: voxel size in mm along each array axis.
    """
    pred, truth = _binary(pred, truth)
    empty = _empty_state(pred, truth)
    if empty == "both":
        return 0.0
    if empty == "one":
        return diagonal_mm(pred.shape, spacing)
    pred, truth = crop_to_union(pred, truth)
    with _quiet():
        value = compute_hausdorff_distance(_tensor(pred), _tensor(truth), include_background=True,
                                           percentile=95.0, spacing=[float(s) for s in spacing])
    return float(value.item())


def nsd(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> float:
    """Normalised surface Dice: share of both surfaces within ``tolerance_mm`` of the other.

    Args:
        pred: predicted binary mask.
        truth: ground-truth binary mask.
        spacing: voxel size in mm along each array axis.
        tolerance_mm: the accepted surface deviation in mm.
    """
    if tolerance_mm < 0:
        raise ValueError(f"tolerance_mm must be >= 0, got {tolerance_mm}")
    pred, truth = _binary(pred, truth)
    empty = _empty_state(pred, truth)
    if empty == "both":
        return 1.0
    if empty == "one":
        return 0.0
    pred, truth = crop_to_union(pred, truth)
    with _quiet():
        value = compute_surface_dice(_tensor(pred), _tensor(truth),
                                     class_thresholds=[float(tolerance_mm)],
                                     include_background=True, spacing=[float(s) for s in spacing])
    return float(value.item())


def sensitivity(pred: np.ndarray, truth: np.ndarray) -> float:
    """True-positive rate TP / (TP + FN); NaN when the truth has no voxels."""
    pred, truth = _binary(pred, truth)
    positives = int(truth.sum())
    if positives == 0:
        return math.nan
    return int(np.logical_and(pred, truth).sum()) / positives


def specificity(pred: np.ndarray, truth: np.ndarray) -> float:
    """True-negative rate TN / (TN + FP); NaN when the truth has no background voxels."""
    pred, truth = _binary(pred, truth)
    negatives = int(truth.size - truth.sum())
    if negatives == 0:
        return math.nan
    return int(np.logical_and(~pred, ~truth).sum()) / negatives


def abs_volume_error_ml(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """|V_pred - V_truth| in millilitres (voxel count times voxel volume, 1 mL = 1000 mm³)."""
    pred, truth = _binary(pred, truth)
    voxel_ml = float(np.prod([float(s) for s in spacing])) / 1000.0
    return abs(int(pred.sum()) - int(truth.sum())) * voxel_ml


def all_metrics(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float],
                tolerance_mm: float) -> dict[str, float]:
    """Every metric of ``METRICS`` for one case, plus the two volumes in mL.

    Args:
        pred: predicted binary mask.
        truth: ground-truth binary mask.
        spacing: voxel size in mm along each array axis.
        tolerance_mm: NSD tolerance in mm.
    """
    if len(spacing) != np.asarray(pred).ndim:
        raise ValueError(f"spacing has {len(spacing)} values for a {np.asarray(pred).ndim}-D mask")
    voxel_ml = float(np.prod([float(s) for s in spacing])) / 1000.0
    volumes = len(spacing) == 3  # a 2D image has areas, not volumes (see undefined_metrics)
    return {"dice": dice(pred, truth), "hd95_mm": hd95_mm(pred, truth, spacing),
            "nsd": nsd(pred, truth, spacing, tolerance_mm),
            "sensitivity": sensitivity(pred, truth), "specificity": specificity(pred, truth),
            "abs_volume_error_ml": abs_volume_error_ml(pred, truth, spacing) if volumes else math.nan,
            "volume_pred_ml": float(np.count_nonzero(pred)) * voxel_ml if volumes else math.nan,
            "volume_truth_ml": float(np.count_nonzero(truth)) * voxel_ml if volumes else math.nan}


def diagonal_mm(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Length of the grid's diagonal in mm: the largest distance two voxels can have."""
    return float(np.sqrt(sum(((n - 1) * float(s)) ** 2 for n, s in zip(shape, spacing))))


def crop_to_union(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the bounding box of their union grown by one voxel (clipped to the grid).

    MONAI's surface distances crop to exactly this box themselves (``get_mask_edges``:
    ``CropForeground`` of ``pred | truth``, margin 1, zero padding where the box leaves the
    grid), so every edge and distance, and the metric, is the same bit for bit; cut here in
    NumPy, MONAI's own bounding box and crop run on the small box instead of the whole volume.
    Why: on the 21 test cases of the 2-core machine (80 x 60 x 57 voxels) that bounding box and
    crop, torch operations on the whole volume, took 6.2-6.4 s of hd95 + NSD a round with torch's
    two intra-op threads beside another process (1.0-1.3 s with one thread); cut first, 0.4 s.

    Args:
        pred: binary mask.
        truth: binary mask on the same grid, not both empty.
    """
    union = pred | truth
    box = []
    for axis in range(union.ndim):
        hits = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        box.append(slice(max(int(hits[0]) - 1, 0), int(hits[-1]) + 2))
    return pred[tuple(box)], truth[tuple(box)]


def _binary(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred) != 0, np.asarray(truth) != 0
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match truth shape {truth.shape}")
    return pred, truth


def _empty_state(pred: np.ndarray, truth: np.ndarray) -> str:
    has_pred, has_truth = bool(pred.any()), bool(truth.any())
    if not has_pred and not has_truth:
        return "both"
    return "none" if has_pred and has_truth else "one"


@contextlib.contextmanager
def _quiet():
    """MONAI's surface distances on one torch thread, without the warning MONAI 1.5+ gives about an
    argument it passes to itself (nothing for the caller to do).

    One thread: on the cropped masks (``crop_to_union``) MONAI runs a few hundred torch operations
    on tensors of a few thousand voxels, each too small to share; with two intra-op threads every
    one of them waited for the second thread (21 test cases, 2-core machine beside another process:
    4.0-4.8 s a round against 1.2-1.35 s with one thread). The operations are boolean masks,
    crops and a quantile of the same distances: the values do not depend on the thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(action="ignore", category=FutureWarning):
            yield
    finally:
        torch.set_num_threads(threads)


def _tensor(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]


def class_key(metric: str, name: str) -> str:
    """The per-case key of one class's value of a metric, e.g. ``dice[tumour]``."""
    return f"{metric}[{name}]"


def class_metrics(pred: np.ndarray, truth: np.ndarray, classes: Sequence[str], spacing: Sequence[float],
                  tolerance_mm: float) -> dict[str, float]:
    """``all_metrics`` of every foreground class of two label maps, by ``class_key``, and their
    mean over the classes under the plain keys (the volumes summed).

    Args:
        pred: predicted label map (class indices 0..N).
        truth: ground-truth label map on the same grid.
        classes: the foreground class names, class 1..N.
        spacing: voxel size in mm along each array axis.
        tolerance_mm: NSD tolerance in mm.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    per_class = {name: all_metrics(pred == index, truth == index, spacing, tolerance_mm)
                 for index, name in enumerate(classes, start=1)}
    out: dict[str, float] = {}
    for metric in (*METRICS, "volume_pred_ml", "volume_truth_ml"):
        values = [per_class[name][metric] for name in classes]
        defined = [v for v in values if not math.isnan(v)]
        if metric.startswith("volume_"):
            out[metric] = float(sum(values)) if defined else math.nan
        else:
            out[metric] = float(sum(defined) / len(defined)) if defined else math.nan
    for name in classes:
        out.update({class_key(metric, name): value for metric, value in per_class[name].items()})
    return out
