"""The preprocess stage: target spacing, RAS, window, crop, cache hashes, fingerprint, splits."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.errors import UserError
from pipeline.data import cache
from pipeline.preprocess import stage
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.records import load_fingerprint, load_splits
from pipeline.core.provenance import file_sha256
from tests.data.tiny import preprocess_params

pytestmark = [pytest.mark.verifies("SRS-DATA-008"), pytest.mark.slow]


def test_cases_resampled_windowed_cropped_and_hashed(tiny_cache):
    params, paths, summary = tiny_cache
    index = cache.read_index(paths["out"])
    assert summary["cases"] == 9 and summary["bad_cases"] == 0
    assert index.orientation == "RAS" and index.spatial_dims == 3
    for case_id, entry in index.cases.items():
        assert np.allclose(entry.spacing, params.target_spacing_mm, atol=1e-4)
        with np.load(paths["out"] / cache.CASES / f"{case_id}.npz") as data:
            image, label = data["image"], data["label"]
        assert image.shape[1:] == tuple(entry.shape) == label.shape[1:]
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert label.sum() == entry.foreground_voxels > 0
        assert entry.sha256 == file_sha256(paths["out"] / cache.CASES / f"{case_id}.npz")
        extent = np.array(entry.shape) * params.target_spacing_mm
        assert np.all(extent <= np.array(entry.original_shape) * entry.original_spacing + 2 * 5.0)


@pytest.mark.verifies("SRS-DATA-009")
def test_splits_record_matches_cache(tiny_cache):
    _, paths, summary = tiny_cache
    record = load_splits(paths["splits"])
    index = cache.read_index(paths["out"]).cases
    entries = [e for split in ("train", "val", "test") for e in record.cases(split)]
    assert sorted(e.case_id for e in entries) == sorted(index)
    assert all(e.sha256 == index[e.case_id].sha256 for e in entries)
    assert summary["test_cases"] >= 1 and summary["val_cases"] >= 1


def test_fingerprint_overall_and_per_site(tiny_cache):
    _, paths, _ = tiny_cache
    prints = load_fingerprint(paths["fingerprint"])
    assert prints.all.cases == 9 and prints.all.patients == 6
    assert set(prints.per_site) == {"Test Hospital"}
    assert prints.all.spacing_min == [2.0, 2.0, 4.0] and prints.all.spacing_max == [2.4, 2.4, 5.0]
    assert prints.all.label_ml_min > 0 and prints.all.foreground_intensity.std > 0


def test_same_input_same_bytes(tiny_cache, tmp_path):
    params, paths, _ = tiny_cache
    stage.run(params, stage.PreprocessPaths(tmp_path / "c", tmp_path / "s.json", tmp_path / "f.json"))
    assert (tmp_path / "s.json").read_bytes() == paths["splits"].read_bytes()


@pytest.mark.verifies("SRS-PLAT-001")
def test_spacing_dimension_mismatch_and_bad_window_rejected():
    with pytest.raises(ValueError, match="high"):
        preprocess_params("x", normalisation={"kind": "ct_window", "low": 10.0, "high": 0.0})
    with pytest.raises(ValueError):
        PreprocessParams.model_validate({**preprocess_params("x").model_dump(), "typo": 1})


@pytest.mark.verifies("SRS-DATA-007")
def test_stage_fails_past_bad_share(tiny_cache, tmp_path):
    params, paths, _ = tiny_cache
    raw = tmp_path / "raw"
    import shutil

    shutil.copytree(params.source.path, raw)
    next(raw.rglob("SEG*.dcm")).unlink()
    with pytest.raises(UserError, match="missing label"):
        stage.run(preprocess_params(raw), stage.PreprocessPaths(tmp_path / "c", tmp_path / "s.json", tmp_path / "f.json"))
    assert not (tmp_path / "c").exists()


def test_workers_give_the_same_bytes(tiny_cache, tmp_path):
    """The cases are read and cached in forked workers (``workers``, 2 by default): one process
    writes the same cache files, index, splits and fingerprint, byte for byte."""
    params, paths, _ = tiny_cache
    assert params.workers == 2
    one = tmp_path / "one"
    stage.run(params.model_copy(update={"workers": 1}),
              stage.PreprocessPaths(one / "cache", one / "splits.json", one / "fp.json"))
    made = sorted(p.relative_to(paths["out"]) for p in paths["out"].rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(one / "cache") for p in (one / "cache").rglob("*") if p.is_file())
    for relative in made:
        assert (one / "cache" / relative).read_bytes() == (paths["out"] / relative).read_bytes(), relative
    assert (one / "splits.json").read_bytes() == paths["splits"].read_bytes()
    assert (one / "fp.json").read_bytes() == paths["fingerprint"].read_bytes()
