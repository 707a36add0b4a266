"""The students' network variants (SRS-COMP-001): MONAI's UNet without its full-resolution top
residual unit, rebuilt from a checkpoint and exported to ONNX like any network."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from monai.networks.nets import UNet

from pipeline.nets.checkpoint import load_checkpoint, save_checkpoint
from pipeline.nets.onnx import export_onnx
from pipeline.nets.params import NetworkParams
from pipeline.nets.unet import LeanTopUNet, build_unet

LEAN = {"spatial_dims": 3, "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1,
        "top_residual_unit": False}


@pytest.mark.verifies("SRS-COMP-001")
def test_the_lean_top_drops_only_the_full_resolution_residual_unit():
    torch.manual_seed(0)
    lean, plain = build_unet(LEAN), build_unet({**LEAN, "top_residual_unit": True})
    assert isinstance(lean, LeanTopUNet) and type(plain) is UNet
    lean_keys, plain_keys = set(lean.state_dict()), set(plain.state_dict())
    assert lean_keys < {k.replace("model.2.0.", "model.2.") for k in plain_keys}  # nothing new
    dropped = {k for k in plain_keys if k.startswith("model.2.1.")}
    assert dropped and not any(k.startswith("model.2.1.") for k in lean_keys)
    assert {k for k in lean_keys if not k.startswith("model.2.")} == {k for k in plain_keys if not k.startswith("model.2.")}
    x = torch.randn(1, 1, 16, 16, 8)
    assert lean.eval()(x).shape == plain.eval()(x).shape == (1, 2, 16, 16, 8)
    assert not any(isinstance(m, (torch.nn.InstanceNorm3d, torch.nn.PReLU)) for m in lean.model[2].modules())
    # the default keeps MONAI's network; with no residual units there is no unit to drop
    assert type(build_unet({**LEAN, "num_res_units": 0})) is UNet
    assert NetworkParams.model_validate({k: v for k, v in LEAN.items() if k != "top_residual_unit"}).top_residual_unit


@pytest.mark.verifies("SRS-COMP-001")
def test_a_lean_student_round_trips_through_its_checkpoint_and_onnx(tmp_path):
    torch.manual_seed(1)
    net = build_unet(LEAN).eval()
    save_checkpoint(tmp_path / "s.pt", net.state_dict(), {"network": LEAN, "out_channels": 2})
    again, _ = load_checkpoint(tmp_path / "s.pt")
    assert isinstance(again, LeanTopUNet)
    x = torch.randn(2, 1, 16, 16, 8)
    with torch.no_grad():
        expected = net(x).numpy()
        assert np.array_equal(again(x).numpy(), expected)
    export_onnx(again, tmp_path / "s.onnx", 3, 1, [16, 16, 8], opset=17)
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4
