"""``fork_map``: results in input order, closures allowed, errors raised, one worker inline."""

from __future__ import annotations

import os

import pytest

from pipeline.core.forkmap import fork_map

pytestmark = pytest.mark.verifies("SRS-PLAT-005")  # the same results, in order, for any number of workers


def test_results_in_input_order_from_worker_processes():
    offset = 1000  # a closure: the workers inherit it, nothing is pickled but the results
    results = list(fork_map(lambda n: (n + offset, os.getpid()), list(range(40)), workers=2))
    assert [value for value, _ in results] == [n + offset for n in range(40)]
    assert os.getpid() not in {pid for _, pid in results}


def test_one_worker_runs_here():
    assert list(fork_map(lambda n: os.getpid(), [1, 2, 3], workers=1)) == [os.getpid()] * 3


def test_an_error_in_a_worker_is_raised_here():
    def fail(n: int) -> int:
        if n == 3:
            raise ValueError("bad item 3")
        return n

    with pytest.raises(ValueError, match="bad item 3"):
        list(fork_map(fail, list(range(8)), workers=2))
