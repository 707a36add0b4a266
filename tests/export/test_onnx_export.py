"""ONNX export: opset, named I/O, dynamic axes, checker, metadata, checksum (SRS-EXPORT-001/004)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from pipeline.core.errors import UserError
from pipeline.export import metadata
from pipeline.runtime.engines import ort_session as make_session
from pipeline.runtime.model import OnnxModel
from pipeline.nets.onnx import export_onnx
from pipeline.runtime.integrity import sidecar_path
from pipeline.nets.unet import build_unet
from tests.export import tiny


@pytest.fixture
def unet_file(tmp_path):
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    path = tmp_path / "m.onnx"
    data = metadata.build_metadata("teacher", "1.2.3", "abc", "run-9", tiny.spec(), "test only", "0" * 64)
    export_onnx(net, path, 3, 1, tiny.PATCH, 17, metadata=data)
    return net, path


@pytest.mark.verifies("SRS-EXPORT-001")
def test_graph_has_opset_named_io_and_dynamic_axes(unet_file):
    _, path = unet_file
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("image", "logits")
    for value in (inp, out):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param and all(d.dim_param for d in dims[2:])


@pytest.mark.verifies("SRS-EXPORT-001")
def test_dynamic_shapes_run_and_match_torch(unet_file):
    net, path = unet_file
    session = make_session(path, threads=1)
    for shape in [(1, 1, 16, 16, 8), (3, 1, 32, 24, 16)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = net(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.verifies("SRS-EXPORT-001")
def test_metadata_carries_version_commit_run_spec_labels_and_use(unet_file):
    _, path = unet_file
    data = metadata.read_metadata(path)
    assert metadata.missing_keys(data) == []
    assert data["model_version"] == "1.2.3" and data["git_commit"] == "abc" and data["training_run_id"] == "run-9"
    loaded = OnnxModel.load(path, threads=1)
    assert loaded.spec == tiny.spec()
    assert loaded.metadata["label_map"] == '{"0": "background", "1": "lesion"}'


@pytest.mark.verifies("SRS-EXPORT-004")
def test_tampered_file_fails_its_checksum(unet_file):
    _, path = unet_file
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(UserError, match="fails its checksum"):
        OnnxModel.load(path)


@pytest.mark.verifies("SRS-EXPORT-004")
def test_missing_checksum_is_refused(unet_file):
    _, path = unet_file
    sidecar_path(path).unlink()
    with pytest.raises(UserError, match="no SHA-256 recorded"):
        OnnxModel.load(path)
    assert OnnxModel.load(path, expected_sha256=__import__("hashlib").sha256(path.read_bytes()).hexdigest())


@pytest.mark.slow
@pytest.mark.verifies("SRS-EXPORT-001")
def test_dynamo_exporter_gives_the_same_logits(tmp_path, unet_file):
    net, reference = unet_file
    path = tmp_path / "dynamo.onnx"
    export_onnx(net, path, 3, 1, tiny.PATCH, 18, exporter="dynamo")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    x = np.random.default_rng(1).random((2, 1, 24, 16, 16), dtype=np.float32)
    a = make_session(path, 1).run(None, {"image": x})[0]
    b = make_session(reference, 1).run(None, {"image": x})[0]
    assert np.abs(a - b).max() <= 1e-4
