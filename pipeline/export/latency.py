"""Latency: the median wall time of repeated calls in one process, after warm-up calls."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(call: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``repeats`` calls of ``call`` after ``warmup`` untimed calls.

    Args:
        call: the work to time (no arguments).
        repeats: timed calls (at least 1).
        warmup: untimed calls first (allocations, lazy initialisation).
    """
    for _ in range(max(warmup, 0)):
        call()
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parameter_count(module) -> int:
    """Number of parameters of a PyTorch module."""
    return int(sum(p.numel() for p in module.parameters()))
