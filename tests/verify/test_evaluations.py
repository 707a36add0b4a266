"""Looks at a locked split: what identifies a model version and what an evaluation showed (SRS-VNV-004)."""

from __future__ import annotations

import onnx
import pytest
from onnx import helper, TensorProto

from pipeline.verify import evaluations


def _model(path, weight: float, commit: str):
    node = helper.make_node("Mul", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              [helper.make_tensor("w", TensorProto.FLOAT, [1], [weight])])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"git_commit": commit, "training_run_id": commit, "preprocessing": "{}"})
    onnx.save(model, str(path))
    return path


@pytest.mark.verifies("SRS-VNV-008")
def test_model_version_ignores_provenance_but_not_weights(tmp_path):
    a = evaluations.model_version(_model(tmp_path / "a.onnx", 2.0, "abc"))
    rebuilt = evaluations.model_version(_model(tmp_path / "b.onnx", 2.0, "def"))
    other = evaluations.model_version(_model(tmp_path / "c.onnx", 3.0, "abc"))
    assert a == rebuilt != other
    assert (tmp_path / "a.onnx").read_bytes() != (tmp_path / "b.onnx").read_bytes()


@pytest.mark.verifies("SRS-VNV-008")
def test_look_key_leaves_out_timings_and_pseudonyms_only():
    row = {"case_id": "c1", "patient_id": "SUBJ-1", "site": "a", "dice": 0.9, "inference_ms": 40.0,
           "speedup_vs_teacher": 3.1}
    criteria = [{"id": "VAL-001", "threshold": 0.85}]
    key = evaluations.look_key({"teacher": "v1"}, criteria, {"teacher": [row]})
    clone = {**row, "case_id": "c9", "patient_id": "SUBJ-9", "inference_ms": 55.0, "speedup_vs_teacher": 2.9}
    assert evaluations.look_key({"teacher": "v1"}, criteria, {"teacher": [clone]}) == key
    assert evaluations.look_key({"teacher": "v2"}, criteria, {"teacher": [row]}) != key
    assert evaluations.look_key({"teacher": "v1"}, [{"id": "VAL-001", "threshold": 0.8}], {"teacher": [row]}) != key
    assert evaluations.look_key({"teacher": "v1"}, criteria, {"teacher": [{**row, "dice": 0.91}]}) != key


@pytest.mark.verifies("SRS-VNV-008")
def test_runs_that_showed_the_same_count_as_one_look():
    def entry(look):
        return evaluations.Evaluation(split="test", split_sha256="s", git_commit="c", models={},
                                      release_status="not releasable", look=look)

    assert evaluations.looks([entry("k1"), entry("k1"), entry("k2")]) == 2
    assert evaluations.looks([entry(None), entry(None), entry("k1")]) == 3  # unknown: one look each
