"""The trace stage records as inputs only what comes before it in dvc.yaml."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.trace.stages import upstream_outputs


@pytest.mark.verifies("SRS-TRACE-003")
def test_later_stages_outputs_are_not_recorded_as_inputs():
    stages = {
        "export": SimpleNamespace(out_hashes={"release/models": "a.dir"}),
        "verify": SimpleNamespace(out_hashes={"metrics/vnv.json": "b", "reports/vnv": "c.dir"}),
        "trace": SimpleNamespace(out_hashes={"release/trace": "d.dir"}),
        "techfile": SimpleNamespace(out_hashes={"release/techfile": "e.dir"}),
    }
    assert upstream_outputs(stages, "trace") == ["metrics/vnv.json", "release/models", "reports/vnv"]
    assert upstream_outputs(stages, "unknown") == sorted(
        p for s in stages.values() for p in s.out_hashes)
