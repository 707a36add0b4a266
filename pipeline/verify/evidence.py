"""Explainability evidence for one case: attribution maps in a window around the structure,
the sanity metric, and a PNG of the most informative slices.

The network is explained on one window of ``roi`` voxels centred on the region it explains,
the same kind of window the sliding-window inference feeds it, which keeps occlusion
sensitivity affordable on a CPU. The region is the predicted structure; when the prediction
is empty (a missed lesion) the ground truth is explained instead, and the evidence says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from torch import nn

from pipeline.verify import explain

PANELS = ("image", "ground truth", "prediction", "Grad-CAM", "occlusion")
CAM_TITLES = {"hirescam": "Grad-CAM (HiResCAM)", "gradcam": "Grad-CAM"}


def explain_case(net: nn.Module, image: np.ndarray, truth: np.ndarray, pred: np.ndarray,
                 spacing: Sequence[float], roi: Sequence[int], target_layer: str,
                 occlusion_mask: int, occlusion_overlap: float, dilation_mm: float,
                 method: str = "hirescam") -> dict:
    """Grad-CAM and occlusion maps (full image size) plus their sanity metrics.

    Args:
        net: the torch teacher (eval mode).
        image: the preprocessed image ``(*spatial)``.
        truth: ground-truth mask.
        pred: predicted mask (from the released ONNX model).
        spacing: voxel size in mm.
        roi: window size in voxels (the training patch size).
        target_layer: Grad-CAM layer name inside ``net``.
        occlusion_mask: occluding box edge in voxels.
        occlusion_overlap: overlap of occluding boxes.
        dilation_mm: margin around the structure for the sanity metric.
        method: the Grad-CAM variant shown (``hirescam`` or ``gradcam``); the other variant's
            sanity metric is returned as ``other_cam_mass_in_region`` for comparison.
    """
    region_name, region = ("prediction", pred) if np.any(pred) else ("ground truth", truth)
    window = _window(region, roi, image.shape)
    crop = tuple(slice(lo, hi) for lo, hi in window)
    other = "gradcam" if method == "hirescam" else "hirescam"
    cam = np.zeros(image.shape, dtype=np.float32)
    other_cam = np.zeros(image.shape, dtype=np.float32)
    occ = np.zeros(image.shape, dtype=np.float32)
    if np.any(region):
        # an image smaller than the window is padded with zeros, as sliding-window inference does
        pad = [((size - (hi - lo)) // 2, size - (hi - lo) - (size - (hi - lo)) // 2)
               for (lo, hi), size in zip(window, roi)]
        inner = tuple(slice(before, before + hi - lo) for (before, _), (lo, hi) in zip(pad, window))
        patch, patch_region = np.pad(image[crop], pad), np.pad(region[crop], pad)
        cam[crop] = explain.gradcam(net, patch, patch_region, target_layer, method=method)[inner]
        other_cam[crop] = explain.gradcam(net, patch, patch_region, target_layer, method=other)[inner]
        box = explain.structure_box(patch_region, margin=occlusion_mask // 2)
        occ[crop] = explain.occlusion(net, patch, patch_region, occlusion_mask,
                                      occlusion_overlap, box=box)[inner]
    return {"gradcam": cam, "occlusion": occ, "explained_region": region_name,
            "window": [list(w) for w in window],
            "attribution_mass_in_region": explain.attribution_mass_in_region(cam, truth, spacing, dilation_mm),
            "other_cam": other, "other_cam_mass_in_region": explain.attribution_mass_in_region(
                other_cam, truth, spacing, dilation_mm),
            "occlusion_mass_in_region": explain.attribution_mass_in_region(occ, truth, spacing, dilation_mm)}


def render_png(path: Path, image: np.ndarray, truth: np.ndarray, pred: np.ndarray,
               cam: np.ndarray, occ: np.ndarray, slices: Sequence[int], caption: str,
               cam_title: str = PANELS[3]) -> None:
    """Write a PNG: one row per axial slice (a 3D volume) or one row (a 2D image), columns image,
    truth, prediction, Grad-CAM, occlusion.

    Slices are shown in radiological convention (patient right on the left, anterior up) for
    RAS-ordered arrays; a 2D image as it was read (row 0 at the top). The PNG carries no
    timestamp, so the same inputs give the same bytes.

    Args:
        path: the PNG to write.
        image: preprocessed image ``(x, y, z)``, or ``(row, column)``.
        truth: ground-truth mask.
        pred: predicted mask.
        cam: Grad-CAM map.
        occ: occlusion map.
        slices: axial slice indices to show (ignored for a 2D image).
        caption: figure title (case and metrics).
        cam_title: heading of the Grad-CAM column (names the variant).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows((image, truth, pred, cam, occ), slices)
    fig, axes = plt.subplots(len(rows), len(PANELS), figsize=(2.2 * len(PANELS), 2.3 * len(rows) + 0.6),
                             squeeze=False)
    occ_top = float(np.abs(occ).max()) or 1.0
    grey = _grey_range(image)
    for row, (label, view) in enumerate(rows):
        for col, title in enumerate(PANELS[:3] + (cam_title,) + PANELS[4:]):
            ax = axes[row][col]
            ax.imshow(view[0], cmap="gray", vmin=grey[0], vmax=grey[1], interpolation="nearest")
            if col == 1:
                ax.contour(view[1], levels=[0.5], colors="lime", linewidths=0.8)
            elif col == 2:
                ax.contour(view[1], levels=[0.5], colors="lime", linewidths=0.5)
                ax.contour(view[2], levels=[0.5], colors="red", linewidths=0.8)
            elif col == 3:  # zero = no attribution (or outside the explained window): transparent
                ax.imshow(np.ma.masked_equal(view[3], 0.0), cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
            elif col == 4:
                ax.imshow(np.ma.masked_equal(view[4], 0.0), cmap="bwr", alpha=0.5,
                          vmin=-occ_top, vmax=occ_top)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
            if col == 0 and label:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(caption, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def caption(case_id: str, role: str, model: str, values: dict, requirement_ids: Sequence[str]) -> str:
    """The figure caption: case, why it was chosen, its metrics and the requirements it supports."""
    shown = ", ".join(f"{k} {values[k]:.3g}" for k in ("dice", "hd95_mm", "nsd", "abs_volume_error_ml")
                      if values.get(k) is not None and values[k] == values[k])  # NaN: not defined
    return (f"{case_id} ({role} Dice, {model} ONNX): {shown}\n"
            f"evidence for {', '.join(requirement_ids)}; green = ground truth, red = prediction")


def _window(region: np.ndarray, roi: Sequence[int], shape: Sequence[int]) -> list[tuple[int, int]]:
    """A window of ``roi`` voxels (clipped to the image) centred on the region's bounding box."""
    points = np.argwhere(region != 0)
    centre = (points.min(axis=0) + points.max(axis=0)) // 2 if points.size else np.asarray(shape) // 2
    out = []
    for c, size, n in zip(centre, roi, shape):
        size = min(int(size), int(n))
        lo = int(min(max(c - size // 2, 0), n - size))
        out.append((lo, lo + size))
    return out


def _grey_range(image: np.ndarray) -> tuple[float, float]:
    """Grey-value window of the image column: 0..1 for an image normalised into it (a CT
    window), else its 1st..99th percentile (z-scored images)."""
    low, high = float(np.min(image)), float(np.max(image))
    if 0.0 <= low and high <= 1.0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(image, [1, 99]))
    return low, max(high, low + 1e-6)


def _rows(arrays: Sequence[np.ndarray], slices: Sequence[int]) -> list[tuple[str, list[np.ndarray]]]:
    """The figure's rows: (label, the arrays' planes) per axial slice of a volume; one unlabelled
    row of the whole arrays for a 2D image."""
    if np.ndim(arrays[0]) == 2:
        return [("", [np.asarray(a, dtype=np.float32) for a in arrays])]
    return [(f"z={z}", [_radiological(a[..., z]) for a in arrays]) for z in slices]


def _radiological(plane: np.ndarray) -> np.ndarray:
    return np.asarray(plane, dtype=np.float32).T[::-1, ::-1]
