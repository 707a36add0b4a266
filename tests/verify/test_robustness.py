"""Perturbed copies of test cases: deterministic, bounded, validated parameters, judged by criteria."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from pipeline.design.items import AcceptanceCriterion
from pipeline.nets.unet import build_unet
from pipeline.verify import adversarial, criteria, perturb, window
from pipeline.verify.params import RobustnessParams, VerifyParams
from pipeline.verify.plan import validate_plan

pytestmark = pytest.mark.verifies("SRS-VNV-009")

IMAGE = np.random.default_rng(0).random((1, 12, 10, 8)).astype(np.float32)


def test_noise_is_reproducible_from_its_seed_and_bounded():
    first = perturb.gaussian_noise(IMAGE, 0.05, np.random.default_rng([7, 0]), (0.0, 1.0))
    again = perturb.gaussian_noise(IMAGE, 0.05, np.random.default_rng([7, 0]), (0.0, 1.0))
    other = perturb.gaussian_noise(IMAGE, 0.05, np.random.default_rng([7, 1]), (0.0, 1.0))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.dtype == np.float32 and first.min() >= 0.0 and first.max() <= 1.0
    assert abs(float((perturb.gaussian_noise(IMAGE, 0.05, np.random.default_rng(1)) - IMAGE).std()) - 0.05) < 0.01


def test_intensity_and_blur_change_the_copy_not_the_input():
    before = IMAGE.copy()
    shifted = perturb.intensity(IMAGE, 1.05, 0.025)
    assert np.allclose(shifted, IMAGE * 1.05 + 0.025)
    assert perturb.intensity(IMAGE, 2.0, 0.5, (0.0, 1.0)).max() == 1.0
    blurred = perturb.blur(IMAGE, 1.0, [0.75, 0.75, 2.5])
    assert blurred.shape == IMAGE.shape and blurred.std() < IMAGE.std()
    assert np.array_equal(IMAGE, before)
    with pytest.raises(ValueError, match="spacing"):
        perturb.blur(IMAGE, 1.0, [1.0, 1.0])


def test_a_ct_window_bounds_the_perturbed_intensities_and_z_scores_do_not():
    class Window:
        kind = "ct_window"

    class ZScore:
        kind = "zscore"

    assert perturb.bounds_of(Window()) == (0.0, 1.0) and perturb.bounds_of(ZScore()) is None


def test_the_window_is_centred_on_the_structure_and_inside_the_image():
    mask = np.zeros((20, 20, 10), dtype=bool)
    mask[15:19, 2:5, 4:6] = True
    box = window.centred(mask, [8, 8, 16])
    assert box == [(12, 20), (0, 8), (0, 10)]  # clipped to the image; an axis shorter than the window whole
    patch, inner = window.cut(mask[None].astype(np.float32), box, [8, 8, 16])
    assert patch.shape == (1, 8, 8, 16) and patch[(slice(None), *inner)].sum() == mask.sum()
    assert window.centred(np.zeros((6, 6), dtype=bool), [4, 4]) == [(1, 5), (1, 5)]


def test_cross_entropy_matches_torch():
    logits = np.random.default_rng(1).normal(size=(2, 4, 3)).astype(np.float32)
    label = (np.random.default_rng(2).random((4, 3)) > 0.5).astype(np.int64)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits)[None], torch.from_numpy(label)[None])
    assert window.cross_entropy(logits, label) == pytest.approx(float(expected), rel=1e-5)


def test_the_adversarial_copy_stays_within_epsilon_of_the_image_and_is_deterministic():
    torch.manual_seed(0)
    net = build_unet({"spatial_dims": 3, "channels": [2, 4], "strides": [2], "num_res_units": 1,
                      "dropout": 0.0}).eval()
    image = np.random.default_rng(3).random((1, 16, 16, 8)).astype(np.float32)
    label = np.zeros((16, 16, 8), dtype=np.uint8)
    label[5:9, 5:9, 2:5] = 1
    first = adversarial.attack(net, image, label, [8, 8, 8], 0.01, 1, (0.0, 1.0))
    assert perturb.max_abs_difference(first, image) <= 0.01 + 1e-6
    assert not np.array_equal(first, image) and first.min() >= 0.0 and first.max() <= 1.0
    assert np.array_equal(first, adversarial.attack(net, image, label, [8, 8, 8], 0.01, 1, (0.0, 1.0)))
    pgd = adversarial.attack(net, image, label, [8, 8, 8], 0.01, 3)
    assert perturb.max_abs_difference(pgd, image) <= 0.01 + 1e-6
    outside = np.ones(image.shape[1:], dtype=bool)
    outside[tuple(slice(lo, hi) for lo, hi in window.centred(label != 0, [8, 8, 8]))] = False
    assert np.array_equal(first[0][outside], image[0][outside])  # only the window around the lesion moves


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize("section, message", [
    ({"noise": {"sigma": 0.0}}, "noise.sigma"),
    ({"noise": {"sigma": -1}}, "greater than 0"),
    ({"intensity": {"scale": 1.0, "shift": 0.0}}, "unchanged"),
    ({"blur": {"sigma_mm": 50.0}}, "blur.sigma_mm"),
    ({"adversarial": {"epsilon": 0.5}}, "adversarial.epsilon"),
    ({"adversarial": {"epsilon": 0.01, "steps": 0}}, "steps"),
    ({"smear": {"sigma": 1.0}}, "smear"),
])
def test_a_perturbation_parameter_out_of_range_names_the_key(section, message):
    with pytest.raises(ValidationError, match=message):
        VerifyParams.model_validate({"nsd_tolerance_mm": 2.0, "bootstrap_samples": 200, "seed": 1,
                                     "robustness": section})
    assert RobustnessParams().adversarial.steps == 1


def _criterion(**update) -> AcceptanceCriterion:
    base = {"id": "VAL-021", "title": "noise", "requirements": ["SRS-VNV-009"], "models": ["teacher"],
            "split": "test", "perturbation": "noise", "metric": "dice_drop_vs_clean",
            "statistic": "ci95_upper", "comparison": "<=", "threshold": 0.05}
    return AcceptanceCriterion.model_validate({**base, **update})


def test_a_perturbation_criterion_reads_the_paired_drop_of_its_perturbation():
    rows = {"teacher": [{"case_id": f"c{i}", "patient_id": f"p{i}", "dice": 0.9,
                         "dice@noise": 0.9 - d, "dice_drop_vs_clean@noise": d, "dice_drop_vs_clean@blur": 0.5}
                        for i, d in enumerate([0.0, 0.01, 0.02, 0.01])]}
    result = criteria.evaluate_criterion(_criterion(), rows, [0, 100], 200, 0)
    assert result["status"] == "PASS" and result["perturbation"] == "noise"
    assert result["models"]["teacher"]["estimate"]["mean"] == pytest.approx(0.01)
    failed = criteria.evaluate_criterion(_criterion(perturbation="blur"), rows, [0, 100], 200, 0)
    assert failed["status"] == "FAIL"
    # NaN in a perturbed value is left out, and none at all is INCONCLUSIVE, not a pass
    rows["teacher"][0]["dice_drop_vs_clean@noise"] = float("nan")
    assert criteria.evaluate_criterion(_criterion(), rows, [0, 100], 200, 0)["models"]["teacher"]["estimate"]["n"] == 3
    empty = criteria.evaluate_criterion(_criterion(perturbation="intensity"), rows, [0, 100], 200, 0)
    assert empty["status"] == "INCONCLUSIVE"
    assert "perturbation" not in _criterion(perturbation=None, metric="dice").model_dump()


@pytest.mark.verifies("SRS-VNV-001")
@pytest.mark.parametrize("update, message", [
    ({"perturbation": None}, "needs a perturbation"),
    ({"metric": "hd95_mm"}, "applies to the metrics"),
    ({"split": "val"}, "test split"),
    ({"subgroup": {"by": "site", "min_size": 3}}, "no subgroup"),
    ({"perturbation": "smear"}, "perturbation"),
])
def test_a_plan_with_a_perturbation_it_cannot_judge_is_refused(update, message):
    item = {**_criterion().model_dump(), **update}
    with pytest.raises(Exception, match=message):
        validate_plan({"title": "t", "age_bands_years": [0, 50, 120],
                       "release_policy": {"inconclusive_blocks_release": False, "rationale": "r"},
                       "test_split_policy": {"max_evaluations": 3, "rationale": "r"}, "criteria": [item]})
