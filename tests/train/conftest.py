"""Tiny 3D and 2D caches built once for the training tests."""

from __future__ import annotations

import pytest

from pipeline.preprocess.params import PreprocessParams
from tests.data.tiny import make_cohort, make_image_folder, preprocess_params


def _build(root, params):
    from pipeline.preprocess import stage

    stage.run(params, stage.PreprocessPaths(root / "cache", root / "splits.json", root / "fingerprint.json"))
    return root


@pytest.fixture(scope="session")
def cache3d(tmp_path_factory):
    root = tmp_path_factory.mktemp("train3d")
    return _build(root, preprocess_params(make_cohort(root / "raw")))


@pytest.fixture(scope="session")
def cache2d(tmp_path_factory):
    root = tmp_path_factory.mktemp("train2d")
    folder = make_image_folder(root / "folder", count=8)
    params = PreprocessParams.model_validate({
        "source": {"format": "image_folder", "path": str(folder), "classes": [{"name": "disc", "values": [255]}]}, "max_bad_fraction": 0.0,
        "target_spacing_mm": [1.0, 1.0], "normalisation": {"kind": "zscore"}, "crop_foreground": False,
        "splits": {"seed": 1, "val_fraction": 0.25, "test_fraction": 0.25, "stratify_by": "none"}})
    return _build(root, params)
