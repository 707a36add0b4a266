"""Seeded bootstrap: same seed, same interval; intervals contain the mean; clusters resampled."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.core.bootstrap import bootstrap_mean

pytestmark = pytest.mark.verifies("SRS-VNV-003")

VALUES = [0.91, 0.88, 0.95, 0.79, 0.85, 0.93, 0.90, 0.87]


def test_same_seed_gives_identical_intervals():
    a = bootstrap_mean(VALUES, samples=500, seed=7)
    b = bootstrap_mean(VALUES, samples=500, seed=7)
    assert a == b
    c = bootstrap_mean(VALUES, samples=500, seed=8)
    assert (c.ci_lower, c.ci_upper) != (a.ci_lower, a.ci_upper)


def test_interval_brackets_the_mean_and_narrows_with_more_data():
    small = bootstrap_mean(VALUES, samples=1000, seed=1)
    assert small.ci_lower <= small.mean <= small.ci_upper
    assert small.mean == pytest.approx(np.mean(VALUES))
    large = bootstrap_mean(VALUES * 10, samples=1000, seed=1)
    assert (large.ci_upper - large.ci_lower) < (small.ci_upper - small.ci_lower)


def test_nan_values_are_left_out_and_counted():
    est = bootstrap_mean([1.0, math.nan, 0.0], samples=200, seed=0)
    assert est.n == 2 and est.mean == 0.5
    none = bootstrap_mean([math.nan], samples=10, seed=0)
    assert none.n == 0 and math.isnan(none.mean) and none.as_dict()["mean"] is None


def test_clusters_are_resampled_as_units():
    # two patients: one with three identical cases, one with one case; every resample mean is
    # one of the values a whole-patient draw can give
    values = [1.0, 1.0, 1.0, 0.0]
    est = bootstrap_mean(values, clusters=["p1", "p1", "p1", "p2"], samples=400, seed=3)
    assert est.n_clusters == 2 and est.n == 4
    assert est.ci_lower == pytest.approx(0.0) and est.ci_upper == pytest.approx(1.0)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="samples"):
        bootstrap_mean(VALUES, samples=0)
    with pytest.raises(ValueError, match="cluster"):
        bootstrap_mean(VALUES, clusters=["a"])


def test_cluster_names_do_not_change_the_interval():
    # pseudonyms depend on the de-identification key; the interval must not
    values = [0.9, 0.8, 0.85, 0.7, 0.95, 0.6]
    names = ["p1", "p1", "p2", "p3", "p4", "p4"]
    renamed = ["z9", "z9", "a0", "m5", "b2", "b2"]
    assert bootstrap_mean(values, names, samples=500, seed=3) == bootstrap_mean(values, renamed, samples=500, seed=3)
