"""Which validation volumes the compress stage times (SRS-COMP-005)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.compress.measure import timed_volumes


def _case(name: str, side: int):
    return SimpleNamespace(case_id=name, image=np.zeros((1, side, side, 4), np.float32))


@pytest.mark.verifies("SRS-COMP-005")
def test_timed_volumes_spread_over_the_sizes_and_always_include_the_largest():
    cases = [_case(f"c{i}", side) for i, side in enumerate([9, 3, 7, 5, 11, 4, 6, 8, 10, 2])]
    sides = [v.shape[1] for v in timed_volumes(cases, 4)]
    assert sides == [2, 5, 8, 11]
    assert [v.shape[1] for v in timed_volumes(cases, 1)] == [11]
    assert sorted(v.shape[1] for v in timed_volumes(cases, 2)) == [2, 11]
    assert len(timed_volumes(cases, 50)) == len(cases)  # more than there are: every case once
