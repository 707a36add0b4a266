"""A tiny cohort shared by the cohort tests (generated once per module)."""

from __future__ import annotations

import pytest

from tests.cohort.tiny import tiny_params


@pytest.fixture(scope="module")
def tiny_cohort(tmp_path_factory):
    from pipeline.cohort.generate import run

    out = tmp_path_factory.mktemp("cohort") / "raw"
    summary = run(tiny_params(), out)
    return out, summary
