"""The exported copy: corrected two-pass instance norms (ORT-accurate) and LeakyReLU (SRS-EXPORT-002)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from pipeline.nets import rewrite, stable_norm
from pipeline.runtime.engines import ort_session as make_session
from pipeline.nets.onnx import NUMERICS_KEY, export_onnx
from pipeline.nets.unet import build_unet
from tests.export import tiny

pytestmark = pytest.mark.verifies("SRS-EXPORT-002")


def _low_variance(channels: int = 4) -> torch.Tensor:
    # a channel whose mean is 300x its spread: the case of a conv output over uniform background
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.standard_normal((1, channels, 24, 24, 16)).astype(np.float32)) * 0.01 + 3.0


def _ort(module: nn.Module, x: torch.Tensor) -> np.ndarray:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), buffer, input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
    return make_session(buffer.getvalue(), threads=1).run(None, {"x": x.numpy()})[0]


@pytest.mark.parametrize("affine", [False, True])
def test_accurate_norm_computes_instance_norm(affine):
    torch.manual_seed(0)
    norm = nn.InstanceNorm3d(4, affine=affine)
    if affine:
        with torch.no_grad():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-1.0, 1.0)
    x = _low_variance()
    with torch.no_grad():
        reference = norm.double()(x.double()).numpy()
        accurate = stable_norm.AccurateInstanceNorm(norm).double()(x.double()).numpy()
    assert np.abs(accurate - reference).max() < 1e-9


def test_onnx_runtime_with_the_rewrite_is_as_accurate_as_torch():
    # ORT's own InstanceNormalization was 1.0e-4 from float64 here on the reference CPU (torch
    # 2.4e-5): the error that broke the 1e-4 parity gate. The rewritten graph must not be worse
    # than torch itself.
    norm = nn.InstanceNorm3d(4)
    x = _low_variance()
    with torch.no_grad():
        exact = norm.double()(x.double()).numpy()
        torch_error = np.abs(norm.float()(x).numpy() - exact).max()
    rewritten = np.abs(_ort(stable_norm.AccurateInstanceNorm(norm), x) - exact).max()
    assert rewritten < 5e-6 and rewritten <= torch_error


def test_for_export_swaps_norms_and_prelu_in_a_copy_computing_the_same():
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.PReLU):
                module.weight.uniform_(0.05, 0.5)   # trained slopes differ from the 0.25 default
    clone = rewrite.for_export(net)
    assert clone is not net
    assert not any(stable_norm.uses_input_statistics(m) or isinstance(m, nn.PReLU) for m in clone.modules())
    assert any(stable_norm.uses_input_statistics(m) for m in net.modules())
    assert any(isinstance(m, nn.PReLU) for m in net.modules())
    x = torch.randn(1, 1, *tiny.PATCH)
    with torch.no_grad():
        assert torch.allclose(clone(x), net(x), atol=1e-5)
    running = nn.Sequential(nn.InstanceNorm3d(2, track_running_stats=True))
    plain = nn.Sequential(nn.Conv3d(1, 2, 3), nn.PReLU(num_parameters=2))
    assert rewrite.for_export(running) is running and rewrite.for_export(plain) is plain
    assert isinstance(rewrite.for_export(nn.InstanceNorm3d(2)), stable_norm.AccurateInstanceNorm)


def test_export_records_the_rewrite_in_metadata(tmp_path):
    torch.manual_seed(0)
    net = build_unet(tiny.NETWORK).eval()
    export_onnx(net, tmp_path / "m.onnx", 3, 1, tiny.PATCH, 17, metadata={"a": "b"})
    model = onnx.load(str(tmp_path / "m.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["a"] == "b" and "corrected two-pass" in props[NUMERICS_KEY]
    ops = {node.op_type for node in model.graph.node}
    assert "InstanceNormalization" not in ops and "PRelu" not in ops and "LeakyRelu" in ops
