"""The students' network variants (SRS-COMP-001): MONAI's UNet without its full-resolution top
residual unit, with kernel-2 up-sampling, with batch norm; rebuilt from a checkpoint and exported
to ONNX like any network."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from monai.networks.nets import UNet

from pipeline.nets.checkpoint import load_checkpoint, save_checkpoint
from pipeline.nets.onnx import export_onnx
from pipeline.nets.params import NetworkParams
from pipeline.nets.unet import VariantUNet, build_unet

LEAN = {"spatial_dims": 3, "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1,
        "top_residual_unit": False}


@pytest.mark.verifies("SRS-COMP-001")
def test_the_lean_top_drops_only_the_full_resolution_residual_unit():
    torch.manual_seed(0)
    lean, plain = build_unet(LEAN), build_unet({**LEAN, "top_residual_unit": True})
    assert isinstance(lean, VariantUNet) and type(plain) is UNet
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
    assert isinstance(again, VariantUNet)
    x = torch.randn(2, 1, 16, 16, 8)
    with torch.no_grad():
        expected = net(x).numpy()
        assert np.array_equal(again(x).numpy(), expected)
    export_onnx(again, tmp_path / "s.onnx", 3, 1, [16, 16, 8], opset=17)
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.verifies("SRS-COMP-001")
def test_kernel_two_up_sampling_and_batch_norm_are_monai_blocks_with_those_settings():
    torch.manual_seed(0)
    plain = build_unet({**LEAN, "top_residual_unit": True})
    net = build_unet({**LEAN, "up_kernel_size": 2, "norm": "batch"})
    assert isinstance(net, VariantUNet)
    ups = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    assert len(ups) == 2 and all(m.kernel_size == (2, 2, 2) and m.stride == (2, 2, 2) and m.padding == (0, 0, 0)
                                 for m in ups)
    assert not any(isinstance(m, torch.nn.InstanceNorm3d) for m in net.modules())
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in net.modules())
    # the same layers as MONAI's (names and kinds), but for the up-sampling kernels and the norm
    kinds = {k: type(m).__name__.replace("BatchNorm3d", "InstanceNorm3d") for k, m in net.named_modules()
             if k and not k.startswith("model.2")}
    assert kinds == {k: type(m).__name__ for k, m in plain.named_modules() if k and not k.startswith("model.2")}
    x = torch.randn(2, 1, 16, 16, 8)
    net.train()(x)  # running statistics are learnt
    assert net.eval()(x).shape == (2, 2, 16, 16, 8)
    with_top = build_unet({**LEAN, "up_kernel_size": 2, "top_residual_unit": True})
    assert any(k.startswith("model.2.1.") for k in with_top.state_dict())  # the top unit stays when asked for
    assert build_unet({**LEAN, "num_res_units": 0, "up_kernel_size": 2}).eval()(x).shape == (2, 2, 16, 16, 8)


@pytest.mark.verifies("SRS-COMP-001")
def test_kernel_two_up_sampling_needs_strides_of_two():
    with pytest.raises(ValueError, match="stride of 2"):
        NetworkParams.model_validate({**LEAN, "strides": [2, 1], "up_kernel_size": 2})
    with pytest.raises(ValueError):
        NetworkParams.model_validate({**LEAN, "up_kernel_size": 4})
    with pytest.raises(ValueError):
        NetworkParams.model_validate({**LEAN, "norm": "group"})


@pytest.mark.verifies("SRS-COMP-001")
@pytest.mark.parametrize("runtime", ["onnxruntime-cpu", "openvino-cpu"])
@pytest.mark.parametrize("top_norm", [None, "instance"])
def test_a_batch_norm_kernel_two_student_exports_with_parity(tmp_path, runtime, top_norm):
    from pipeline.runtime import engines

    if runtime not in engines.available():
        pytest.skip(f"{runtime} not installed")
    torch.manual_seed(2)
    config = {**LEAN, "up_kernel_size": 2, "norm": "batch", "top_norm": top_norm}
    net = build_unet(config)
    for _ in range(3):
        net.train()(torch.randn(2, 1, 16, 16, 8) * 2 + 1)
    net.eval()
    save_checkpoint(tmp_path / "s.pt", net.state_dict(), {"network": config, "out_channels": 2})
    again, _ = load_checkpoint(tmp_path / "s.pt")
    x = torch.randn(2, 1, 16, 16, 8)
    with torch.no_grad():
        expected = net(x).numpy()
        assert np.array_equal(again(x).numpy(), expected)
    export_onnx(again, tmp_path / "s.onnx", 3, 1, [16, 16, 8], opset=17)
    got = engines.open_engine((tmp_path / "s.onnx").read_bytes(), runtime, threads=1)(x.numpy())
    assert np.abs(got - expected).max() < 1e-5


@pytest.mark.verifies("SRS-COMP-001")
def test_the_up_sampling_kernel_can_differ_per_level():
    net = build_unet({**LEAN, "up_kernel_size": [3, 2]})  # the top keeps MONAI's kernel, the level below 2
    top = [m for m in net.model[2].modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    inner = [m for k, m in net.named_modules() if isinstance(m, torch.nn.ConvTranspose3d) and not k.startswith("model.2")]
    assert [m.kernel_size for m in top] == [(3, 3, 3)] and [m.kernel_size for m in inner] == [(2, 2, 2)]
    assert net.eval()(torch.randn(1, 1, 16, 16, 8)).shape == (1, 2, 16, 16, 8)
    with pytest.raises(ValueError, match="one value per stride"):
        NetworkParams.model_validate({**LEAN, "up_kernel_size": [2]})
    with pytest.raises(ValueError, match="stride of 2"):
        NetworkParams.model_validate({**LEAN, "strides": [2, 3], "up_kernel_size": [2, 2]})
    assert NetworkParams.model_validate({**LEAN, "strides": [2, 3], "up_kernel_size": [2, 3]}).up_kernels() == [2, 3]


def _encoder_convolutions(block: torch.nn.Module) -> int:
    """Convolutions in an encoder residual unit's main path (its residual projection left out)."""
    return sum(isinstance(m, torch.nn.Conv3d) for m in block.conv.modules())


@pytest.mark.verifies("SRS-COMP-001")
def test_the_encoder_depth_can_differ_per_level(tmp_path):
    deep = {**LEAN, "num_res_units": 2}
    uniform, varied = build_unet({**deep, "encoder_subunits": [2, 2, 2]}), build_unet({**deep, "encoder_subunits": [1, 2, 3]})
    monai = build_unet(deep)
    assert list(uniform.state_dict()) == list(monai.state_dict())  # the same as MONAI's when uniform
    levels = [varied.model[0], varied.model[1].submodule[0], varied.model[1].submodule[1].submodule]  # top, 2nd, bottom
    assert [_encoder_convolutions(block) for block in levels] == [1, 2, 3]
    assert [_encoder_convolutions(b) for b in (monai.model[0], monai.model[1].submodule[1].submodule)] == [2, 2]
    x = torch.randn(1, 1, 16, 16, 8)
    save_checkpoint(tmp_path / "v.pt", varied.state_dict(), {"network": {**deep, "encoder_subunits": [1, 2, 3]},
                                                            "out_channels": 2})
    again, _ = load_checkpoint(tmp_path / "v.pt")  # rebuilt from its params, the same weights
    with torch.no_grad():
        assert torch.equal(again(x), varied.eval()(x)) and again(x).shape == (1, 2, 16, 16, 8)
    assert NetworkParams.model_validate(deep).encoder_depths() == [2, 2, 2]
    with pytest.raises(ValueError, match="one value per level"):
        NetworkParams.model_validate({**deep, "encoder_subunits": [1, 2]})
    with pytest.raises(ValueError, match="needs residual units"):
        NetworkParams.model_validate({**deep, "num_res_units": 0, "encoder_subunits": [1, 1, 1]})


@pytest.mark.verifies("SRS-COMP-001")
def test_the_top_norm_replaces_only_the_top_encoder_units_norms(tmp_path):
    deep = {**LEAN, "num_res_units": 2, "norm": "batch"}
    net, plain = build_unet({**deep, "top_norm": "instance"}), build_unet(deep)
    instance = [k for k, m in net.named_modules() if isinstance(m, torch.nn.InstanceNorm3d)]
    assert len(instance) == 2 and all(k.startswith("model.0.conv.") for k in instance)  # the top unit's two
    batch = sum(isinstance(m, torch.nn.BatchNorm3d) for m in net.modules())
    assert batch == sum(isinstance(m, torch.nn.BatchNorm3d) for m in plain.modules()) - 2
    # the rest is the plain network's: the state differs by the top unit's batch-norm entries only
    assert set(net.state_dict()) == {k for k in plain.state_dict() if not k.startswith("model.0.conv.")
                                     or ".adn.N." not in k}
    # the same norm as the network's, or none, builds MONAI's network
    assert type(build_unet({**deep, "num_res_units": 2, "top_residual_unit": True, "top_norm": "batch"})) is UNet
    shallow = build_unet({**LEAN, "num_res_units": 0, "norm": "batch", "top_norm": "instance"})
    assert [k for k, m in shallow.named_modules() if isinstance(m, torch.nn.InstanceNorm3d)] == ["model.0.adn.N"]
    save_checkpoint(tmp_path / "t.pt", net.state_dict(), {"network": {**deep, "top_norm": "instance"}, "out_channels": 2})
    again, _ = load_checkpoint(tmp_path / "t.pt")
    x = torch.randn(1, 1, 16, 16, 8)
    with torch.no_grad():
        assert torch.equal(again(x), net.eval()(x))
    with pytest.raises(ValueError):
        NetworkParams.model_validate({**deep, "top_norm": "group"})
