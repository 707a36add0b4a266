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
