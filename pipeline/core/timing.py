"""Latency: the median wall time of repeated calls in one process, after warm-up calls."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

# A round during which other processes kept more than this share of the machine's CPUs busy is
# timed again: on the 2-core reference machine a fresh-clone release run beside other work
# measured the slim student 2.45x faster than the teacher per volume where a quiet run measured
# 3.12x, and the release shipped no compressed model. Interleaving protects ratios from a load
# that drifts slowly, not from one that slows small convolutions more than large ones.
CONTENDED_SHARE = 0.25
EXTRA_ROUNDS = 2  # at most this many times ``repeats`` further rounds are tried for quiet ones
STAT = Path("/proc/stat")


def busy_cpu_seconds(stat: Path = STAT) -> float | None:
    """CPU seconds the whole machine has spent busy since boot (all processes), or None where
    the kernel does not say (no ``/proc/stat``)."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_share(busy_before: float | None, busy_after: float | None, own_cpu: float, wall: float,
                 cpus: int) -> float:
    """The share of the machine's CPUs other processes kept busy during ``wall`` seconds, in
    which this process used ``own_cpu`` CPU seconds (0.0 where the machine's count is unknown)."""
    if busy_before is None or busy_after is None or wall <= 0:
        return 0.0
    return max(0.0, (busy_after - busy_before - own_cpu) / (wall * max(cpus, 1)))


def interleaved_medians(calls: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call, timing the contenders in turn within each round.

    On a shared machine the load drifts; interleaving exposes every contender to the same
    drift, so their ratios stay fair even when the absolute times move. A round during which
    other processes kept more than ``CONTENDED_SHARE`` of the CPUs busy is set aside and another
    is run, up to ``EXTRA_ROUNDS * repeats`` more; when quiet rounds stay fewer than
    ``repeats`` every round counts and a warning on stderr says the timings were contended.

    Args:
        calls: name -> the work to time.
        repeats: timed rounds.
        warmup: untimed rounds first.
    """
    if not calls:
        return {}
    for _ in range(max(warmup, 0)):
        for call in calls.values():
            call()
    repeats = max(repeats, 1)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quiet: dict[str, list[float]] = {name: [] for name in calls}
    every: dict[str, list[float]] = {name: [] for name in calls}
    shares = []
    for _ in range(repeats * (1 + EXTRA_ROUNDS)):
        busy, own, start_round = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        times = {}
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name] = time.perf_counter() - start
        share = others_share(busy, busy_cpu_seconds(), time.process_time() - own,
                             time.perf_counter() - start_round, cpus)
        shares.append(share)
        for name, seconds in times.items():
            every[name].append(seconds)
            if share <= CONTENDED_SHARE:
                quiet[name].append(seconds)
        if len(next(iter(quiet.values()), [])) >= repeats:
            return {name: statistics.median(values) for name, values in quiet.items()}
    print(f"warning: timings contended: other processes kept {100 * max(shares):.0f} % of the {cpus} CPUs "
          f"busy in {sum(s > CONTENDED_SHARE for s in shares)} of {len(shares)} rounds; every round counts "
          f"(ratios measured on a busy machine: re-run when it is idle)", file=sys.stderr)
    return {name: statistics.median(values) for name, values in every.items()}
