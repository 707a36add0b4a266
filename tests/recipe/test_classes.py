"""Validation Dice of a multi-class network: per class, and their mean (what picks the epoch)."""

from __future__ import annotations

import pytest
import torch

from pipeline.nets.unet import build_unet, out_channels
from pipeline.recipe import loop

pytestmark = pytest.mark.verifies("SRS-DATA-010")


class Fixed(torch.nn.Module):
    """Logits whose argmax is a given label map."""

    def __init__(self, labels: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.logits = torch.nn.functional.one_hot(labels.long(), classes).movedim(-1, 0)[None].float() * 10

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1, *x.shape[2:])


def test_validation_dice_is_per_class_and_their_mean():
    truth = torch.zeros(8, 8, 4, dtype=torch.long)
    truth[2:6, 2:6] = 1
    truth[3:5, 3:5] = 2
    pred = truth.clone()
    pred[3:5, 3:5, :2] = 1  # half the class-2 voxels called class 1
    case = ("c", torch.zeros(1, 1, 8, 8, 4), truth[None, None])
    scores = loop.validate_classes(Fixed(pred, 3), [case], [8, 8, 4], 1, 0.0, "cpu")
    mean, (first, second) = scores["c"]
    assert second == pytest.approx(2 * 8 / (8 + 16)) and first < 1.0 and mean == pytest.approx((first + second) / 2)
    assert loop.validate(Fixed(pred, 3), [case], [8, 8, 4], 1, 0.0, "cpu") == {"c": mean}
    assert loop.mean_per_class(scores, ["organ", "lesion"]) == {"organ": first, "lesion": second}


def test_the_network_has_one_output_per_class_and_background():
    net = build_unet({"spatial_dims": 2, "channels": [2, 4], "strides": [2], "num_res_units": 0},
                     out_channels(["organ", "lesion"]))
    assert net(torch.zeros(1, 1, 8, 8)).shape[1] == 3
    with pytest.raises(ValueError, match="at least 2 outputs"):
        build_unet({"spatial_dims": 2, "channels": [2, 4], "strides": [2], "num_res_units": 0}, 1)
