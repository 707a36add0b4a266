"""The data-set fingerprint: sizes, spacings, intensities and label volumes, overall and per site.

Computed on the cases as read (before resampling), as nnU-Net does for planning; the
technical file quotes it to describe the data.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from pipeline.core.errors import UserError
from pipeline.data.case import Case

PERCENTILES = (0.5, 50.0, 99.5)


def fingerprint(cases: list[Case], classes: Sequence[str] = ("foreground",)) -> dict:
    """Summaries over all cases and per site, the voxels of each class and the unmapped source values.

    Args:
        cases: the cases as read (canonical orientation, original spacing).
        classes: the foreground class names, class index 1..N.
    """
    by_site: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_site[case.site].append(case)
    counts = [class_voxels(case.label, classes) for case in cases]
    return {"all": _summary(cases),
            "per_site": {site: _summary(group) for site, group in sorted(by_site.items())},
            "classes": {name: {"voxels": sum(c[name] for c in counts), "cases": sum(c[name] > 0 for c in counts)}
                        for name in classes},
            "unmapped_values": sorted({v for case in cases for v in case.unmapped})}


def class_voxels(label: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """Class name -> its voxel count in a label map (class index 1..N)."""
    counts = np.bincount(np.asarray(label, dtype=np.uint8).ravel(), minlength=len(classes) + 1)
    return {name: int(counts[index]) for index, name in enumerate(classes, start=1)}


def check_classes(cases: list[Case], classes: Sequence[str], source: str) -> None:
    """``UserError`` when a declared class occurs in no case: a network would learn an output that
    no example shows, and its Dice (both masks empty: 1.0) would look perfect. A value listed for a
    class that some cases lack is normal; one that no case has is a mistake in the class map."""
    seen = np.zeros(len(classes) + 1, dtype=bool)
    for case in cases:
        present = np.unique(case.label)
        seen[present[present <= len(classes)]] = True
    missing = [name for index, name in enumerate(classes, start=1) if not seen[index]]
    if missing:
        unmapped = sorted({v for case in cases for v in case.unmapped})
        found = f"; values in no class: {unmapped}" if unmapped else ""
        raise UserError(f"class(es) {missing} of preprocess.source.classes occur in no case of {source}: "
                        f"check their values{found}")


def case_stats(case: Case) -> dict:
    """One case: shape, spacing, foreground volume (mL) and foreground intensities."""
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    fg = case.image[case.label > 0]
    return {"shape": list(case.image.shape), "spacing": [round(s, 4) for s in case.spacing],
            "label_ml": round(float(np.count_nonzero(case.label)) * voxel_ml, 4),
            "foreground_mean": float(fg.mean()) if fg.size else None,
            "foreground_std": float(fg.std()) if fg.size else None}


def _summary(cases: list[Case]) -> dict:
    stats = [case_stats(case) for case in cases]
    shapes = np.array([s["shape"] for s in stats], dtype=float)
    spacings = np.array([s["spacing"] for s in stats], dtype=float)
    labels = np.array([s["label_ml"] for s in stats], dtype=float)
    fg = np.concatenate([case.image[case.label > 0].ravel() for case in cases]).astype(np.float64)
    return {
        "cases": len(cases),
        "patients": len({case.patient_id for case in cases}),
        "shape_min": shapes.min(0).astype(int).tolist(), "shape_median": np.median(shapes, 0).tolist(),
        "shape_max": shapes.max(0).astype(int).tolist(),
        "spacing_min": spacings.min(0).tolist(), "spacing_median": np.median(spacings, 0).tolist(),
        "spacing_max": spacings.max(0).tolist(),
        "label_ml_min": round(float(labels.min()), 4), "label_ml_median": round(float(np.median(labels)), 4),
        "label_ml_max": round(float(labels.max()), 4),
        "empty_labels": int((labels == 0).sum()),
        "foreground_intensity": _intensity(fg),
        "manufacturers": sorted({case.manufacturer for case in cases}),
    }


def _intensity(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"mean": None, "std": None, "p00_5": None, "p50": None, "p99_5": None}
    low, mid, high = np.percentile(values, PERCENTILES)
    return {"mean": round(float(values.mean()), 3), "std": round(float(values.std()), 3),
            "p00_5": round(float(low), 3), "p50": round(float(mid), 3), "p99_5": round(float(high), 3)}
