"""A tiny preprocessed cache built once from the tiny DICOM cohort."""

from __future__ import annotations

import pytest

from tests.data.tiny import make_cohort, preprocess_params


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    from pipeline.preprocess import stage

    root = tmp_path_factory.mktemp("pre")
    raw = make_cohort(root / "raw")
    params = preprocess_params(raw)
    paths = {"out": root / "cache", "splits": root / "splits.json", "fingerprint": root / "fp.json"}
    summary = stage.run(params, stage.PreprocessPaths(paths["out"], paths["splits"], paths["fingerprint"]))
    return params, paths, summary
