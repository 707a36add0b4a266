"""Latency: the median wall time of repeated calls in one process, after warm-up calls."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_medians(calls: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call, timing the contenders in turn within each round.

    On a shared machine the load drifts; interleaving exposes every contender to the same
    drift, so their ratios stay fair even when the absolute times move.

    Args:
        calls: name -> the work to time.
        repeats: timed rounds.
        warmup: untimed rounds first.
    """
    for _ in range(max(warmup, 0)):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(repeats, 1)):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
