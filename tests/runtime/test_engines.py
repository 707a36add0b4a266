"""The runtimes a released file runs on: the same logits on each, the recorded one used by default,
clear errors for unknown or broken runtimes (SRS-EXPORT-003, SRS-COMP-001)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipeline.core.errors import UserError
from pipeline.nets.unet import build_unet
from pipeline.runtime import engines
from pipeline.runtime.model import OnnxModel, recorded_runtime
from pipeline.runtime.sliding import predict_volume, torch_predict_volume
from tests.export import tiny

OPENVINO = pytest.mark.skipif(engines.OPENVINO_CPU not in engines.available(), reason="openvino not installed")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    spec = tiny.spec(patch_size=tiny.PATCH, sw_batch_size=3)
    path = tiny.export_model(net, tmp_path_factory.mktemp("engines") / "m.onnx", spec)
    return net, spec, path


@pytest.mark.verifies("SRS-EXPORT-003")
def test_the_reference_runtime_is_always_there_and_versions_are_named():
    assert engines.available()[0] == engines.ORT_CPU
    for runtime in engines.available():
        assert engines.version(runtime)[0].isdigit()


@pytest.mark.verifies("SRS-EXPORT-003", "SRS-COMP-001")
@pytest.mark.parametrize("runtime", [engines.ORT_CPU, pytest.param(engines.OPENVINO_CPU, marks=OPENVINO)])
def test_every_runtime_computes_what_torch_computes_through_the_sliding_windows(exported, runtime):
    net, spec, path = exported
    model = OnnxModel.load(path, threads=1, runtime=runtime)
    assert model.runtime == runtime
    # 20x18x10 with 16x16x8 windows at batch 3: the last call holds fewer windows than the batch
    volume = np.random.default_rng(1).random((1, 20, 18, 10), dtype=np.float32)
    reference = torch_predict_volume(net, volume, spec)
    assert np.abs(predict_volume(model, volume, spec) - reference).max() < 1e-4
    odd = np.random.default_rng(2).random((2, 1, 8, 8, 8), dtype=np.float32)  # not the compiled shape
    with torch.no_grad():
        assert np.abs(model(odd) - net(torch.from_numpy(odd)).numpy()).max() < 1e-4


@pytest.mark.verifies("SRS-EXPORT-003")
def test_onnx_runtime_splits_a_batch_by_window_and_gives_each_window_its_own_logits(exported):
    _, _, path = exported
    blob = path.read_bytes()
    split = engines.open_engine(blob, engines.ORT_CPU, threads=2)
    assert isinstance(split.run, engines.WindowParallel)
    assert not isinstance(engines.open_engine(blob, engines.ORT_CPU, threads=1).run, engines.WindowParallel)
    one = engines.ort_session(blob, 1)
    windows = np.random.default_rng(3).random((5, 1, 16, 16, 8), dtype=np.float32)
    alone = np.concatenate([one.run([engines.OUTPUT], {engines.INPUT: windows[i:i + 1]})[0] for i in range(5)])
    for size in (1, 2, 3, 5):  # below, at and above the thread count; odd sizes split unevenly
        logits = split(windows[:size])
        assert logits.shape == alone[:size].shape
        assert np.abs(logits - alone[:size]).max() < 1e-6
    with pytest.raises(Exception):
        split(np.zeros((2, 2, 16, 16, 8), dtype=np.float32))  # a worker's error reaches the caller


@pytest.mark.verifies("SRS-EXPORT-003")
def test_the_file_decides_the_runtime_unless_the_caller_overrides_it(exported):
    _, _, path = exported
    model = OnnxModel.load(path, threads=1)
    assert model.runtime == recorded_runtime(model.metadata)["name"] == engines.ORT_CPU
    assert json.loads(model.metadata["runtime"])["version"] == engines.version(engines.ORT_CPU)
    assert recorded_runtime({}) == {"name": engines.ORT_CPU, "version": ""}  # files from before the key


@pytest.mark.verifies("SRS-EXPORT-004")
def test_unknown_or_unreadable_runtime_records_are_user_errors(exported):
    _, _, path = exported
    with pytest.raises(UserError, match="unknown runtime 'tensorrt'"):
        OnnxModel.load(path, runtime="tensorrt")
    with pytest.raises(UserError, match="'runtime' is not valid"):
        recorded_runtime({"runtime": "{not json"})
    with pytest.raises(UserError, match="not available here"):
        engines.open_engine(path.read_bytes(), engines.ORT_CUDA) if engines.ORT_CUDA not in engines.available() \
            else pytest.skip("CUDA present")


@pytest.mark.verifies("SRS-EXPORT-003")
def test_the_reference_runtime_opens_without_probing_the_others(exported, monkeypatch):
    """ONNX Runtime's CPU provider is always installed: opening it does not import and probe
    OpenVINO (a third of a second in every process that runs a released file)."""
    _, _, path = exported

    def probe():
        raise AssertionError("OpenVINO probed")

    monkeypatch.setattr(engines, "_openvino_core", probe)
    engine = engines.open_engine(path.read_bytes(), engines.ORT_CPU, threads=1)
    assert engine.runtime == engines.ORT_CPU
