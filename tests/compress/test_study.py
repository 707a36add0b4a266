"""The compression study's params: every method of the study over the release's compress section (SRS-COMP-001)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_compress import study_params
from pipeline.params import load_section


@pytest.mark.verifies("SRS-COMP-001")
def test_study_measures_every_method_over_the_release_settings():
    study = study_params()
    release = load_section("compress", Path("params.yaml"))
    assert {c.method for c in study.candidates} == {"distill", "scratch", "prune"}
    assert study.quantize.enabled
    assert study.selection == release.selection and study.seed == release.seed
    assert study.foreground_thresholds == release.foreground_thresholds


@pytest.mark.verifies("SRS-COMP-001")
def test_study_keys_are_validated(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text("candidates: []\n")
    with pytest.raises(ValueError):
        study_params(study_file=bad)
