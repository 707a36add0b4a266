"""The data-set fingerprint: sizes, spacings, intensities and label volumes, overall and per site.

Computed on the cases as read (before resampling), as nnU-Net does for planning; the
technical file quotes it to describe the data.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from pipeline.data.case import Case

PERCENTILES = (0.5, 50.0, 99.5)


def fingerprint(cases: list[Case]) -> dict:
    """Summaries over all cases and per site.

    Args:
        cases: the cases as read (canonical orientation, original spacing).
    """
    by_site: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_site[case.site].append(case)
    return {"all": _summary(cases),
            "per_site": {site: _summary(group) for site, group in sorted(by_site.items())}}


def case_stats(case: Case) -> dict:
    """One case: shape, spacing, foreground volume (mL) and foreground intensities."""
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    fg = case.image[case.label > 0]
    return {"shape": list(case.image.shape), "spacing": [round(s, 4) for s in case.spacing],
            "label_ml": round(float(case.label.sum()) * voxel_ml, 4),
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
