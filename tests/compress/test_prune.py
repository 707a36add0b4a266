"""Structured channel pruning of MONAI's UNet with Torch-Pruning, and its checkpoint (SRS-COMP-001)."""

from __future__ import annotations

import pytest
import torch

from pipeline.compress.prune import prune_channels
from pipeline.nets.checkpoint import load_checkpoint, norm_features, save_checkpoint
from pipeline.nets.unet import build_unet, parameter_count

NETWORK = {"spatial_dims": 3, "channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 2, "dropout": 0.0}


@pytest.mark.verifies("SRS-COMP-001")
@pytest.mark.parametrize("res_units", [0, 2])
def test_pruning_keeps_the_interface_and_removes_the_share_asked_for(res_units):
    torch.manual_seed(0)
    teacher = build_unet({**NETWORK, "num_res_units": res_units}).eval()
    example = torch.rand(1, 1, 16, 16, 8)
    pruned = prune_channels(teacher, 0.5, example)
    assert pruned(example).shape == teacher(example).shape == (1, 2, 16, 16, 8)
    ratio = parameter_count(teacher) / parameter_count(pruned)
    assert 3.0 < ratio < 4.5  # half the channels: about a quarter of the weights
    assert parameter_count(teacher) == parameter_count(build_unet({**NETWORK, "num_res_units": res_units}))
    slopes = [m for m in pruned.modules() if isinstance(m, torch.nn.PReLU)]
    assert slopes and all(m.weight.requires_grad for m in slopes)  # PReLU restored, learnable


@pytest.mark.verifies("SRS-COMP-001")
def test_a_pruned_checkpoint_rebuilds_the_same_function(tmp_path):
    torch.manual_seed(1)
    pruned = prune_channels(build_unet(NETWORK).eval(), 0.6, torch.rand(1, 1, 16, 16, 8))
    save_checkpoint(tmp_path / "p.pt", pruned.state_dict(), {"network": NETWORK, "pruned": True,
                                                           "norm_features": norm_features(pruned)})
    loaded, config = load_checkpoint(tmp_path / "p.pt")
    x = torch.rand(2, 1, 16, 16, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), pruned(x))
    assert config["pruned"] and parameter_count(loaded) == parameter_count(pruned)
    assert norm_features(loaded) == norm_features(pruned) != norm_features(build_unet(NETWORK))


@pytest.mark.verifies("SRS-COMP-001")
def test_ratio_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="ratio"):
        prune_channels(build_unet(NETWORK), 1.0, torch.rand(1, 1, 16, 16, 8))
