"""Parity of ONNX exports with PyTorch on validation cases; a failed check fails the stage (SRS-EXPORT-002)."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.export import parity
from pipeline.export import stage as export_stage
from pipeline.runtime import engines
from pipeline.runtime.model import OnnxModel
from pipeline.export.metadata import missing_keys, read_metadata
from pipeline.data.cache import load_cases
from pipeline.preprocess.records import load_splits
from pipeline.nets.unet import build_unet
from tests.export import tiny


@pytest.fixture
def setup(tmp_path):
    cache, splits = tiny.make_cache(tmp_path)
    teacher = tiny.make_teacher(tmp_path / "teacher.pt")
    val = load_cases(cache, load_splits(splits), ["val"])["val"]
    return tmp_path, cache, splits, teacher, val


@pytest.mark.verifies("SRS-EXPORT-002")
def test_export_matches_torch_on_every_val_voxel(setup):
    tmp, _, _, _, val = setup
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    spec = tiny.spec(patch_size=tiny.PATCH)
    model = OnnxModel.load(tiny.export_model(net, tmp / "m.onnx", spec), threads=1)
    rows = parity.compare(net, model, val, spec)
    assert rows and all(r["max_abs_diff"] <= 1e-4 and r["argmax_mismatches"] == 0 for r in rows)
    parity.check("teacher", rows, 1e-4)


@pytest.mark.verifies("SRS-EXPORT-002")
def test_a_different_model_fails_parity_with_counts(setup):
    tmp, _, _, _, val = setup
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    spec = tiny.spec(patch_size=tiny.PATCH)
    model = OnnxModel.load(tiny.export_model(net, tmp / "m.onnx", spec), threads=1)
    with torch.no_grad():
        for weight in net.parameters():
            weight.mul_(1.5)
    rows = parity.compare(net, model, val, spec)
    with pytest.raises(parity.ParityError, match=r"parity check failed for teacher: max \|logit diff\|"):
        parity.check("teacher", rows, 1e-4)


@pytest.mark.verifies("SRS-EXPORT-001", "SRS-EXPORT-002", "SRS-PLAT-002")
@pytest.mark.parametrize("runtime", ["onnxruntime-cpu", "openvino-cpu"])
def test_stage_writes_checked_files_metadata_and_metrics_on_the_chosen_runtime(setup, runtime):
    tmp, cache, splits, teacher, _ = setup
    if runtime not in engines.available():
        pytest.skip(f"{runtime} is not installed here")
    candidates, choice = tiny.make_choice(tmp, runtime=runtime)
    paths = export_stage.ExportPaths(teacher, candidates, choice, cache, splits, tmp / "release", tmp / "export.json")
    metrics = export_stage.run(tiny.export_params(), tiny.preprocess_params(), paths, "abc", "run-1")
    for role in ("teacher", "compressed"):
        path = tmp / "release" / f"{role}.onnx"
        model = OnnxModel.load(path)
        assert model.metadata["model_role"] == role and model.runtime == runtime == metrics[role]["runtime"]
        assert json.loads(model.metadata["runtime"])["version"] == engines.version(runtime)
        assert missing_keys(read_metadata(path)) == []
        assert metrics[role]["parity"]["max_abs_diff"] <= 1e-4
        assert metrics[role]["parity"]["argmax_mismatches"] == 0
    assert json.loads(OnnxModel.load(tmp / "release" / "compressed.onnx").metadata["compression"])["method"] == "distill"
    saved = json.loads((tmp / "export.json").read_text())
    assert {"val_dice_teacher", "val_dice_compressed", "ratios", "volume_latency_ms"} <= set(saved)
    assert saved["ratios"]["compressed_size_reduction"] > 1 and saved["compressed_released"]
    assert saved["teacher"]["parameters"] > 0 and saved["teacher"]["onnx"]["bytes"] > 0


@pytest.mark.verifies("SRS-EXPORT-001", "SRS-COMP-005")
def test_without_a_chosen_candidate_no_compressed_file_is_released(setup):
    tmp, cache, splits, teacher, _ = setup
    candidates, choice = tiny.make_choice(tmp, compressed=False)
    (tmp / "release").mkdir()
    (tmp / "release" / "compressed.onnx").write_bytes(b"stale file of an earlier run")
    paths = export_stage.ExportPaths(teacher, candidates, choice, cache, splits, tmp / "release", tmp / "export.json")
    metrics = export_stage.run(tiny.export_params(), tiny.preprocess_params(), paths, "abc", "run-1")
    assert sorted(p.name for p in (tmp / "release").iterdir()) == ["teacher.onnx", "teacher.onnx.sha256"]
    assert metrics["compressed"] is None and not metrics["compressed_released"]
    assert "compressed_vs_teacher_speedup" not in metrics["ratios"]


@pytest.mark.verifies("SRS-EXPORT-002", "SRS-PLAT-002")
def test_failed_parity_fails_the_stage_and_releases_nothing(setup):
    tmp, cache, splits, teacher, _ = setup
    candidates, choice = tiny.make_choice(tmp)
    paths = export_stage.ExportPaths(teacher, candidates, choice, cache, splits, tmp / "release", tmp / "export.json")
    with pytest.raises(parity.ParityError, match="parity check failed for teacher"):
        export_stage.run(tiny.export_params(parity_atol=1e-12), tiny.preprocess_params(), paths, "abc", "r")
    assert not (tmp / "release").exists() and not (tmp / "export.json").exists()
