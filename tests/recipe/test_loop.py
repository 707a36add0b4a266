"""When training validates, and the losses of the shared recipe (SRS-TRAIN-001)."""

from __future__ import annotations

import pytest
import torch

from pipeline.recipe import loop


@pytest.mark.verifies("SRS-TRAIN-001")
def test_validation_runs_every_n_epochs_after_the_share_and_always_at_the_end():
    due = [e for e in range(1, 41) if loop.validation_due(e, 40, 4, 0.45)]
    assert due == [20, 24, 28, 32, 36, 40]
    assert [e for e in range(1, 11) if loop.validation_due(e, 10, 4)] == [4, 8, 10]
    assert [e for e in range(1, 4) if loop.validation_due(e, 3, 4, 0.9)] == [3]


@pytest.mark.verifies("SRS-TRAIN-001")
def test_distillation_with_weight_zero_is_the_supervised_loss():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 8, 8, 4)
    batch = {"label": (torch.rand(2, 1, 8, 8, 4) > 0.7).long(), "teacher": torch.randn(2, 2, 8, 8, 4)}
    plain = loop.supervised_loss()(logits, batch)
    assert torch.equal(loop.distillation_loss(0.0, 1.0)(logits, batch), plain)
    assert float(loop.distillation_loss(0.5, 1.0)(logits, batch)) != pytest.approx(float(plain))


@pytest.mark.verifies("SRS-TRAIN-001")
def test_a_3d_network_trains_channels_last_on_the_cpu_only():
    assert loop.memory_format(3, "cpu") == torch.channels_last_3d
    assert loop.memory_format(2, "cpu") == torch.contiguous_format
    assert loop.memory_format(3, "cuda") == torch.contiguous_format
    assert loop.memory_format(3, "cuda:1") == torch.contiguous_format
    assert loop.memory_format(3, "cpu", torch.bfloat16) == torch.contiguous_format  # measured slower there


@pytest.mark.verifies("SRS-TRAIN-003")
@pytest.mark.parametrize("avx512_bf16, amx, expected", [(True, False, torch.bfloat16), (False, True, torch.bfloat16),
                                                        (False, False, None)])
def test_mixed_precision_is_float16_on_cuda_and_bfloat16_only_on_cpus_that_compute_it(monkeypatch, avx512_bf16,
                                                                                     amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert loop.precision("cpu", amp=True) is expected  # emulated bfloat16 would be slower than float32
    assert loop.precision("cpu", amp=False) is None
    assert loop.precision("cuda:0", amp=True) is torch.float16
    assert loop.precision("cuda", amp=False) is None
    assert loop.precision_name(expected) == ("bfloat16" if expected else "float32")
    assert loop.scaler(torch.bfloat16) is None and loop.scaler(None) is None  # only float16 needs loss scaling


@pytest.mark.verifies("SRS-TRAIN-003")
def test_a_bfloat16_step_keeps_float32_weights_and_learns_what_float32_learns():
    from pipeline.nets.unet import build_unet

    network = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 1}
    torch.manual_seed(0)
    batch = {"image": torch.randn(2, 1, 16, 16, 8), "label": (torch.rand(2, 1, 16, 16, 8) > 0.7).long()}
    trained, losses = {}, {}
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(1)
        net = build_unet(network)
        step = loop.Step(net, loop.supervised_loss(), torch.optim.SGD(net.parameters(), lr=1e-2), "cpu",
                         precision=dtype)
        losses[dtype] = loop.train_epoch(step, [batch, batch])["loss"]
        trained[dtype] = loop.cpu_state(net)
    assert all(v.dtype == torch.float32 for v in trained[torch.bfloat16].values() if v.is_floating_point())
    assert losses[torch.bfloat16] == pytest.approx(losses[None], rel=0.02)  # bfloat16 keeps 8 bits of mantissa
    moved = [name for name, value in trained[None].items()
             if value.is_floating_point() and not torch.allclose(value, trained[torch.bfloat16][name], atol=1e-2)]
    assert not moved
    assert any(not torch.equal(value, trained[torch.bfloat16][name]) for name, value in trained[None].items()
               if value.is_floating_point())  # it did compute in another precision


@pytest.mark.verifies("SRS-TRAIN-001")
def test_the_layout_changes_rounding_not_what_a_step_learns_and_states_are_saved_contiguous():
    from pipeline.nets.unet import build_unet

    network = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 1}
    torch.manual_seed(0)
    batch = {"image": torch.randn(2, 1, 16, 16, 8), "label": (torch.rand(2, 1, 16, 16, 8) > 0.7).long()}
    trained = {}
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        torch.manual_seed(1)
        net = build_unet(network).to(memory_format=layout)
        step = loop.Step(net, loop.supervised_loss(), torch.optim.SGD(net.parameters(), lr=1e-2), "cpu",
                         memory_format=layout)  # SGD: Adam would scale rounding noise of zero-gradient biases to lr
        loop.train_epoch(step, [batch, batch])
        trained[layout] = loop.cpu_state(net)
    plain, last = trained[torch.contiguous_format], trained[torch.channels_last_3d]
    assert plain.keys() == last.keys()
    for name, value in last.items():
        assert value.is_contiguous(), name
        assert torch.allclose(value, plain[name], atol=1e-5), name


@pytest.mark.verifies("SRS-TRAIN-001")
def test_batch_norms_are_synchronised_across_ranks_only_under_ddp_on_cuda():
    from pipeline.nets.unet import build_unet

    network = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 1, "norm": "batch"}
    net = build_unet(network)
    assert loop.for_ranks(net, distributed=False, device="cuda") is net
    assert loop.for_ranks(net, distributed=True, device="cpu") is net
    synced = loop.for_ranks(net, distributed=True, device="cuda:0")
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules())
    assert not any(type(m) is torch.nn.BatchNorm3d for m in synced.modules())
    assert set(synced.state_dict()) == set(build_unet(network).state_dict())
