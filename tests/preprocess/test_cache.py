"""The cache guards: the locked test split and the recorded SHA-256 of every case file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.data import cache
from pipeline.preprocess.records import SplitsRecord, load_splits

pytestmark = pytest.mark.slow


@pytest.mark.verifies("SRS-DATA-009", "SRS-TRAIN-004")
def test_test_split_refused_unless_vnv_asks(tiny_cache):
    _, paths, _ = tiny_cache
    record = load_splits(paths["splits"])
    with pytest.raises(cache.LockedSplitError, match="locked"):
        cache.load_cases(paths["out"], record, ["train", "test"])
    loaded = cache.load_cases(paths["out"], record, ["test"], allow_locked=True)
    assert [c.case_id for c in loaded["test"]] == [e.case_id for e in record.cases("test")]
    index = cache.read_index(paths["out"]).cases
    for case in loaded["test"]:  # typed: the index record and the cached arrays, by attribute
        assert isinstance(case, cache.LoadedCase) and case.record == index[case.case_id]
        assert case.image.dtype == np.float32 and case.label.dtype == np.uint8
        assert case.image.shape[1:] == case.label.shape[1:] == tuple(case.record.shape)


@pytest.mark.verifies("SRS-DATA-009")
def test_changed_case_file_rejected(tiny_cache):
    _, paths, _ = tiny_cache
    data = json.loads(paths["splits"].read_text())
    data["splits"]["train"][0]["sha256"] = "0" * 64
    forged = SplitsRecord.model_validate_json(json.dumps(data))
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        cache.load_cases(paths["out"], forged, ["train"])
