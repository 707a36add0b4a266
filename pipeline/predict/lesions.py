"""The lesions of a predicted mask: connected components with their volume, centroid and extent.

Measured on the input's own grid, with its own affine: a lesion is a connected component of
one foreground class under full connectivity (26 neighbours in 3D, 8 in 2D), its volume is its
voxel count times the voxel volume ``|det(A)|`` of the affine's linear part (exact for oblique
and anisotropic grids), its centroid is the mean voxel index mapped through the affine (world or
patient mm), its bounding box the inclusive index range and the world extent of those voxel
centres. Lesions are numbered from 1, largest first (ties in scan order). ``scipy.ndimage``
does the labelling; what is ours is only the bookkeeping of the report.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from pipeline.predict.crop import foreground_box

MM3_PER_ML = 1000.0


def measure(mask: np.ndarray, affine: np.ndarray, labels: list[str]) -> dict:
    """Connected lesions of every foreground class, and their totals.

    Args:
        mask: class index per voxel, in the input's own array order (2D or 3D).
        affine: that order's index -> mm affine ((ndim + 1) square).
        labels: class names by index (0 is background).
    Returns:
        ``{"connectivity", "voxel_mm3" | "pixel_mm2", "lesions": [...], "total": {...}}``; in 2D
        areas (mm^2) replace volumes and ``volume_ml`` is ``None``.
    """
    mask = np.asarray(mask)
    dims = mask.ndim
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (dims + 1, dims + 1):
        raise ValueError(f"affine {affine.shape} does not fit a {dims}D mask")
    cell = float(abs(np.linalg.det(affine[:dims, :dims])))  # mm^3 per voxel (mm^2 per pixel in 2D)
    found = []
    for cls in range(1, len(labels)):
        found += [dict(label=labels[cls], **part) for part in _components(mask == cls, affine, cell)]
    found.sort(key=lambda lesion: -lesion["voxels"])  # stable: ties keep the scan order
    lesions = [{"index": index, **lesion} for index, lesion in enumerate(found, start=1)]
    voxels = int(sum(lesion["voxels"] for lesion in lesions))
    out = {"connectivity": 3 ** dims - 1, "lesions": lesions,
           "total": {"lesions": len(lesions), "voxels": voxels, **_size(voxels, cell, dims)}}
    out["voxel_mm3" if dims == 3 else "pixel_mm2"] = round(cell, 9)
    if len(labels) > 2:
        out["per_label"] = {name: {"lesions": sum(1 for x in lesions if x["label"] == name),
                                   "voxels": sum(x["voxels"] for x in lesions if x["label"] == name),
                                   **_size(sum(x["voxels"] for x in lesions if x["label"] == name), cell, dims)}
                            for name in labels[1:]}
    return out


def summary_line(measured: dict) -> str:
    """A short text for a DICOM SEG (SeriesDescription is at most 64 characters)."""
    total = measured["total"]
    if total.get("volume_ml") is None:
        return f"{total['lesions']} lesion(s), {total.get('area_mm2', 0):.1f} mm2"
    return f"{total['lesions']} lesion(s), {total['volume_ml']:.2f} mL"


def _components(binary: np.ndarray, affine: np.ndarray, cell: float) -> list[dict]:
    dims = binary.ndim
    region = foreground_box(binary)  # label the foreground's box only: same components, same order
    if region is None:
        return []
    origin = [s.start for s in region]
    labelled, count = ndimage.label(binary[region], structure=np.ones((3,) * dims, dtype=bool))
    centroids, voxels = _centroids(labelled, count, origin)
    boxes = ndimage.find_objects(labelled)
    out = []
    for n, (centre, box) in enumerate(zip(centroids, boxes)):
        low = [int(s.start + o) for s, o in zip(box, origin)]
        high = [int(s.stop + o) - 1 for s, o in zip(box, origin)]
        corners = np.array([_world(affine, corner) for corner in itertools.product(*zip(low, high))])
        out.append({"voxels": int(voxels[n]), **_size(int(voxels[n]), cell, dims),
                    "centroid_mm": [round(v, 3) for v in _world(affine, centre)],
                    "centroid_voxel": [round(float(v), 3) for v in centre],
                    "bbox_voxel": {"min": low, "max": high},
                    "bbox_mm": {"min": [round(float(v), 3) for v in corners.min(0)],
                                "max": [round(float(v), 3) for v in corners.max(0)]}})
    return out


def _centroids(labelled: np.ndarray, count: int, origin: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean voxel index (on the whole grid) and voxel count of labels 1..count.

    The sums ``ndimage.center_of_mass`` forms (index sums over each label, divided by its voxel
    count: integers, exact in float64, so the same numbers), from the foreground voxels' indices
    only: ``center_of_mass`` multiplies the whole grid by an index grid per axis, 8 bytes a voxel.
    """
    where = np.nonzero(labelled)
    which = labelled[where]
    voxels = np.bincount(which, minlength=count + 1)[1:]
    sums = [np.bincount(which, weights=(axis + offset).astype(np.float64), minlength=count + 1)[1:]
            for axis, offset in zip(where, origin)]
    return np.stack(sums, axis=1) / voxels[:, None], voxels


def _size(voxels: int, cell: float, dims: int) -> dict:
    if dims == 3:
        return {"volume_ml": round(voxels * cell / MM3_PER_ML, 6)}
    return {"volume_ml": None, "area_mm2": round(voxels * cell, 4)}


def _world(affine: np.ndarray, index) -> list[float]:
    dims = affine.shape[0] - 1
    point = affine[:dims, :dims] @ np.asarray(index, dtype=np.float64) + affine[:dims, dims]
    return [float(v) for v in point]
