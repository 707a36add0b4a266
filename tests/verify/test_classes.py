"""Per-class V&V: metrics of each class and their mean, criteria that name a class."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.core.errors import UserError
from pipeline.design.items import AcceptanceCriterion
from pipeline.runtime.metrics import class_dice, dice, mean_dice
from pipeline.verify import criteria
from pipeline.verify.metrics import all_metrics, class_key, class_metrics
from pipeline.verify.plan import validate_plan

pytestmark = pytest.mark.verifies("SRS-DATA-010", "SRS-VNV-002")
CRITERION = {"id": "VAL-101", "title": "t", "requirements": ["SRS-VNV-002"], "models": ["teacher"],
             "split": "test", "metric": "dice", "statistic": "point", "comparison": ">=", "threshold": 0.5}
PLAN = {"title": "p", "age_bands_years": [18, 120],
        "release_policy": {"inconclusive_blocks_release": False, "rationale": "r"},
        "test_split_policy": {"max_evaluations": 3, "rationale": "r"}}


def _maps():
    truth = np.zeros((6, 6, 4), np.uint8)
    truth[1:5, 1:5, 1:3] = 1
    truth[2:4, 2:4, 1:3] = 2
    pred = truth.copy()
    pred[2:4, 2:4, 1] = 1  # half the class-2 voxels called class 1
    return pred, truth


def test_each_class_has_its_metrics_and_the_plain_key_is_their_mean():
    pred, truth = _maps()
    values = class_metrics(pred, truth, ["organ", "lesion"], [1.0, 1.0, 2.0], 2.0)
    organ, lesion = dice(pred == 1, truth == 1), dice(pred == 2, truth == 2)
    assert values[class_key("dice", "organ")] == organ and values["dice[lesion]"] == lesion == 2 * 4 / 12
    assert values["dice"] == pytest.approx((organ + lesion) / 2)
    assert class_dice(pred, truth, 3) == [organ, lesion] and mean_dice(pred, truth, 3) == values["dice"]
    assert values["volume_truth_ml"] == pytest.approx(np.count_nonzero(truth) * 2.0 / 1000)  # the whole foreground


def test_binary_values_are_exactly_the_one_class_values():
    pred, truth = _maps()
    pred, truth = (pred > 0).astype(np.uint8), (truth > 0).astype(np.uint8)
    truth[0, 0, 0] = 1
    assert mean_dice(pred, truth, 2) == dice(pred, truth) == class_dice(pred, truth, 2)[0]
    only = class_metrics(pred, truth, ["lesion"], [1.0, 1.0, 2.0], 2.0)
    plain = all_metrics(pred == 1, truth == 1, [1.0, 1.0, 2.0], 2.0)
    assert all(only[k] == v or (math.isnan(v) and math.isnan(only[k])) for k, v in plain.items())


def test_a_criterion_with_a_class_judges_that_class_and_one_without_the_mean():
    rows = {"teacher": [{"case_id": f"c{i}", "patient_id": f"p{i}", "dice": 0.7, "dice[organ]": 0.9,
                         "dice[lesion]": 0.5} for i in range(4)]}
    mean = criteria.evaluate_criterion(AcceptanceCriterion.model_validate(CRITERION), rows, [18, 120], 50, 1,
                                       classes=["organ", "lesion"])
    lesion = criteria.evaluate_criterion(AcceptanceCriterion.model_validate({**CRITERION, "class": "lesion",
                                                                              "threshold": 0.6}),
                                         rows, [18, 120], 50, 1, classes=["organ", "lesion"])
    assert mean["status"] == "PASS" and mean["models"]["teacher"]["value"] == pytest.approx(0.7)
    assert "class_name" not in mean  # a criterion without a class records what it did before
    assert lesion["status"] == "FAIL" and lesion["class_name"] == "lesion"
    assert lesion["models"]["teacher"]["value"] == pytest.approx(0.5)
    binary = criteria.evaluate_criterion(AcceptanceCriterion.model_validate({**CRITERION, "class": "lesion"}),
                                         {"teacher": [{**r, "dice": 0.55} for r in rows["teacher"]]},
                                         [18, 120], 50, 1, classes=["lesion"])
    assert binary["models"]["teacher"]["value"] == pytest.approx(0.55)  # binary: its one class is the plain value


def test_a_class_the_model_lacks_is_a_plan_error_and_classes_only_fit_segmentation_metrics():
    plan = validate_plan({**PLAN, "criteria": [CRITERION, {**CRITERION, "id": "VAL-102", "class": "kidney"}]})
    with pytest.raises(UserError, match=r"VAL-102 names class 'kidney'; the model's classes are \['organ', 'lesion'\]"):
        criteria.check_classes(plan, ["organ", "lesion"], "plan.yaml")
    criteria.check_classes(validate_plan({**PLAN, "criteria": [CRITERION]}), ["lesion"])
    with pytest.raises(UserError, match="applies to the per-case segmentation metrics"):
        validate_plan({**PLAN, "criteria": [{**CRITERION, "metric": "dice_drop_vs_teacher", "models": ["compressed"],
                                              "class": "lesion"}]})


def test_a_criterion_without_a_class_dumps_as_before():
    """Review fingerprints and look keys hash the dump: existing criteria must not change."""
    dumped = AcceptanceCriterion.model_validate(CRITERION).model_dump(mode="json")
    assert "class_name" not in dumped and "class" not in dumped
    assert AcceptanceCriterion.model_validate({**CRITERION, "class": "x"}).model_dump()["class_name"] == "x"
