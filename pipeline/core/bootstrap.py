"""Seeded percentile bootstrap confidence intervals for the mean of a per-case metric.

Cases of one patient (a baseline and a follow-up study) are not independent, so the
bootstrap resamples clusters (patients) with replacement and recomputes the mean over all
cases of the drawn clusters; with one case per cluster this is the ordinary case bootstrap.
Cases whose value is NaN (metric not defined for them, see ``pipeline.verify.metrics``) are
left out before resampling. The same values, clusters, samples and seed give the same
interval, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate (mean) with its percentile bootstrap interval."""

    mean: float
    ci_lower: float
    ci_upper: float
    n: int  # cases with a defined value
    n_clusters: int
    level: float
    samples: int
    seed: int

    def statistic(self, name: str) -> float:
        """The named statistic: ``point``, ``ci95_lower`` or ``ci95_upper``."""
        return {"point": self.mean, "ci95_lower": self.ci_lower, "ci95_upper": self.ci_upper}[name]

    def as_dict(self) -> dict:
        """JSON-safe fields (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


def bootstrap_mean(values: Sequence[float], clusters: Sequence[str] | None = None,
                   samples: int = 2000, seed: int = 0, level: float = 0.95) -> Estimate:
    """Mean of ``values`` with a percentile bootstrap CI, resampling clusters.

    Args:
        values: one value per case (NaN = not defined, left out).
        clusters: one cluster key per case (e.g. patient ID); None = each case its own.
        samples: number of bootstrap resamples.
        seed: seed of the numpy generator.
        level: two-sided confidence level, e.g. 0.95.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    data = np.asarray(values, dtype=float)
    keys = np.asarray(list(clusters) if clusters is not None else range(data.size), dtype=str)
    if keys.size != data.size:
        raise ValueError(f"{keys.size} cluster keys for {data.size} values")
    defined = ~np.isnan(data)
    data, keys = data[defined], keys[defined]
    if data.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, 0, level, samples, seed)
    # clusters numbered in order of first appearance, not by name: the names (pseudonyms) depend
    # on the de-identification key, the case order does not
    order = {key: index for index, key in enumerate(dict.fromkeys(keys.tolist()))}
    cluster_index = np.asarray([order[key] for key in keys.tolist()], dtype=int)
    sums = np.bincount(cluster_index, weights=data)
    counts = np.bincount(cluster_index).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, sums.size, size=(samples, sums.size))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(float(data.mean()), float(lower), float(upper), int(data.size),
                    int(sums.size), level, samples, seed)
