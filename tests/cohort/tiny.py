"""Params of a tiny two-site cohort that generates in about a second."""

from __future__ import annotations

from pipeline.cohort.params import CohortParams

SITE = dict(institution="Test Hospital", model="Model X", rows=32, columns=28, slices=12,
            noise_hu=10.0)


def tiny_params(seed: int = 7, workers: int = 1) -> CohortParams:
    """Two sites, three patients each, one follow-up and one dose screen."""
    return CohortParams.model_validate({
        "seed": seed,
        "workers": workers,
        "patients_per_site": 3,
        "followup_every": 2,
        "dose_report_every": 3,
        "sites": [
            dict(SITE, name="alpha", manufacturer="ACME", pixel_spacing_mm=2.0,
                 slice_thickness_mm=4.0, slice_order="head_first"),
            dict(SITE, name="beta", manufacturer="BETA", pixel_spacing_mm=2.4,
                 slice_thickness_mm=5.0, slice_order="feet_first"),
        ],
    })
