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
