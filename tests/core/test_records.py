"""Stage records are parsed through their models: a good record parses, a misspelt or missing
field is a ``UserError`` naming the file and the field, a writer cannot write a record its model
does not describe, and checking a record never changes the bytes written (``pipeline.core.records``).

The end-to-end test parses every record a ``dvc repro`` leaves (``tests/e2e/test_pipeline.py``).
"""

from __future__ import annotations

import json
import re
from typing import get_type_hints

import pytest

from pipeline.cohort.record import load_cohort_summary
from pipeline.compress.record import load_compress_metrics, load_compression
from pipeline.core.atomic import write_json
from pipeline.core.errors import UserError
from pipeline.core.records import check_record, write_record
from pipeline.deid.record import load_deid_report
from pipeline.export.record import load_export_metrics
from pipeline.governance.manifest import load_manifest
from pipeline.preprocess.records import load_cache_index, load_fingerprint, load_splits
from pipeline.train.record import TrainMetrics, load_train_metrics
from pipeline.trace.record import load_trace_summary
from pipeline.verify.record import load_test_split_log, load_vnv
from tests import records

SUMMARY = records.fingerprint_summary(3, 2, [30, 30, 10], [34, 34, 14], [0.8, 0.8, 2.0], [1.2, 1.2, 3.0], ["GE"])
GOOD = {  # record -> (its loader, a good record as its stage writes it)
    "splits": (load_splits, lambda: records.splits({"test": [records.split_case("c1", "p1", "0" * 64, "a")]})),
    "cache index": (load_cache_index, lambda: records.cache_index(
        [records.indexed_case("c1", "p1", "0" * 64, [4, 4, 2], [1.0, 1.0, 2.0])], [1.0, 1.0, 2.0])),
    "fingerprint": (load_fingerprint, lambda: records.fingerprint(SUMMARY, {"site-a": SUMMARY})),
    "cohort summary": (load_cohort_summary, records.cohort_summary),
    "deid report": (load_deid_report, records.deid_report),
    "train metrics": (load_train_metrics, records.train_metrics),
    "compression record": (load_compression, records.compression_record),
    "compress metrics": (load_compress_metrics, records.compress_metrics),
    "export metrics": (load_export_metrics, records.export_metrics),
    "vnv": (load_vnv, lambda: records.vnv({"VAL-001": records.criterion("VAL-001", "PASS", {
        "teacher": records.model_result("PASS", 0.9, 0.8, estimate_=records.estimate(0.9, 0.85, 0.95, 4))})})),
    "test split log": (load_test_split_log, lambda: {"evaluations": [records.evaluation("test", "c" * 64, {}, "releasable")]}),
    "release manifest": (load_manifest, lambda: records.manifest({"models/teacher.onnx": b"weights"})),
    "trace summary": (load_trace_summary, lambda: {"release_status": "draft", "counts": {"problems": 1},
                                                   "changed_files": ["README.md"]}),
}


@pytest.mark.verifies("SRS-DOC-001")
@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_good_record_parses_and_a_misspelt_field_is_named(tmp_path, name):
    load, good = GOOD[name]
    path = tmp_path / "record.json"
    data = good()
    path.write_text(json.dumps(data))
    assert load(path).model_dump(exclude_unset=True) == json.loads(json.dumps(data))
    fields = get_type_hints(load)["return"].model_fields
    key = min(fields, key=lambda name: (not fields[name].is_required(), name))  # a required one where there is one
    path.write_text(json.dumps({**{k: v for k, v in data.items() if k != key}, f"{key}s": data[key]}))
    with pytest.raises(UserError) as raised:
        load(path)
    message = str(raised.value)
    assert message.startswith(f"{path} is not a valid ") and f"{key}s: Extra inputs are not permitted" in message
    assert (f"{key}: Field required" in message) is fields[key].is_required()


@pytest.mark.verifies("SRS-DOC-001")
@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_missing_record_names_the_stage_that_writes_it(tmp_path, name):
    load, _ = GOOD[name]
    with pytest.raises(UserError, match=rf"missing input: {re.escape(str(tmp_path))}/absent.json \(.+\) not found; "
                                        r"run the \w+ stage"):
        load(tmp_path / "absent.json")


@pytest.mark.verifies("SRS-DOC-001")
def test_a_wrongly_typed_value_is_named_with_its_place(tmp_path):
    data = records.vnv({"VAL-001": records.criterion("VAL-001", "PASS", {
        "teacher": records.model_result("PASS", 0.9, 0.8, estimate_=records.estimate(0.9, 0.85, 0.95, 4))})})
    data["criteria"]["VAL-001"]["status"] = "pass"
    data["test_split"]["looks"] = "2"
    (tmp_path / "vnv.json").write_text(json.dumps(data))
    with pytest.raises(UserError) as raised:
        load_vnv(tmp_path / "vnv.json")
    assert "criteria.VAL-001.status: Input should be 'PASS', 'FAIL', 'INCONCLUSIVE' or 'NOT APPLICABLE'" in str(raised.value)
    assert "test_split.looks: Input should be a valid integer" in str(raised.value)


@pytest.mark.verifies("SRS-DOC-001")
def test_a_writer_cannot_write_what_its_model_does_not_describe_and_checking_keeps_the_bytes(tmp_path):
    good = records.train_metrics(best_val_dice=float("nan"))  # NaN is a recorded value, not an error
    write_record(tmp_path / "checked.json", good, TrainMetrics, "training metrics")
    write_json(tmp_path / "plain.json", good)
    assert (tmp_path / "checked.json").read_bytes() == (tmp_path / "plain.json").read_bytes()
    with pytest.raises(ValueError, match=r"training metrics about to be written is not a valid TrainMetrics: "
                                         r"best_epoch: Input should be a valid integer"):
        check_record({**good, "best_epoch": 2.0}, TrainMetrics, "training metrics")
    with pytest.raises(ValueError):
        write_record(tmp_path / "bad.json", {**good, "epoch": 3}, TrainMetrics, "training metrics")
    assert not (tmp_path / "bad.json").exists()
