"""The loss-threshold membership-inference attack: AUC, its patient bootstrap, hostile inputs, criteria."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.core.bootstrap import Estimate
from pipeline.design.items import AcceptanceCriterion
from pipeline.verify import criteria, membership, membership_stage

pytestmark = pytest.mark.verifies("SRS-VNV-010")


def test_auc_is_the_share_of_member_non_member_pairs_ranked_right_with_ties_as_half():
    assert membership.auc([3, 4], [1, 2]) == 1.0
    assert membership.auc([1, 2], [3, 4]) == 0.0
    assert membership.auc([1, 3], [2, 2]) == 0.5
    assert membership.auc([2], [2]) == 0.5
    assert membership.auc([5, float("nan")], [1]) == 1.0  # NaN scores are left out
    assert math.isnan(membership.auc([float("nan")], [1]))


def test_bootstrap_interval_brackets_the_auc_and_is_reproducible():
    rng = np.random.default_rng(0)
    members, others = rng.normal(2.0, 1.0, 30), rng.normal(0.0, 1.0, 20)
    m_patients, n_patients = [f"m{i // 2}" for i in range(30)], [f"n{i}" for i in range(20)]
    first = membership.bootstrap_auc(members, m_patients, others, n_patients, 500, 3)
    assert first == membership.bootstrap_auc(members, m_patients, others, n_patients, 500, 3)
    assert first.ci_lower <= first.mean <= first.ci_upper and first.mean == membership.auc(members, others)
    from scipy.stats import mannwhitneyu  # the textbook statistic: U / (members x non-members)

    assert first.mean == pytest.approx(mannwhitneyu(members, others).statistic / 600)
    assert first.n == 50 and first.n_clusters == 15 + 20 and first.mean > 0.7
    same = membership.bootstrap_auc(others, n_patients, others, [f"x{i}" for i in range(20)], 500, 3)
    assert same.mean == 0.5 and same.ci_lower < 0.5 < same.ci_upper  # scores that cannot tell: chance


def test_a_group_with_one_case_or_only_nan_scores_gives_no_estimate():
    one = membership.bootstrap_auc([0.1], ["p"], [0.2, 0.3, 0.4], ["a", "b", "c"], 100, 0, min_cases=2)
    assert math.isnan(one.mean) and one.n == 4
    nan = membership.bootstrap_auc([float("nan")] * 5, list("abcde"), [0.1] * 5, list("fghij"), 100, 0)
    assert math.isnan(nan.mean) and nan.n == 5
    with pytest.raises(ValueError, match="patient keys"):
        membership.bootstrap_auc([0.1, 0.2], ["p"], [0.1], ["q"], 100, 0)


def _criterion(**update) -> AcceptanceCriterion:
    base = {"id": "VAL-025", "title": "MIA", "requirements": ["SRS-VNV-010"], "models": ["teacher"],
            "split": "test", "metric": "membership_auc", "statistic": "ci95_upper", "comparison": "<=",
            "threshold": 0.8}
    return AcceptanceCriterion.model_validate({**base, **update})


@pytest.mark.verifies("SRS-VNV-004")
def test_the_criterion_judges_the_attack_estimate_and_is_inconclusive_without_one():
    good = Estimate(0.55, 0.4, 0.7, 45, 36, 0.95, 200, 0)
    bad = Estimate(0.9, 0.82, 0.97, 45, 36, 0.95, 200, 0)
    judged = lambda est: criteria.evaluate_criterion(_criterion(), {"teacher": []}, [0, 100], 200, 0,
                                                     estimates={"teacher": {"membership_auc": est}})
    assert judged(good)["status"] == "PASS" and judged(good)["models"]["teacher"]["value"] == 0.7
    assert judged(bad)["status"] == "FAIL"
    why = judged("membership_auc not estimated: 1 training and 16 test case(s)")
    assert why["status"] == "INCONCLUSIVE" and "1 training" in why["models"]["teacher"]["reason"]
    nan = judged(Estimate(math.nan, math.nan, math.nan, 3, 3, 0.95, 200, 0))
    assert nan["status"] == "INCONCLUSIVE" and "not estimated" in nan["models"]["teacher"]["reason"]
    missing = criteria.evaluate_criterion(_criterion(), {"teacher": []}, [0, 100], 200, 0)
    assert missing["status"] == "INCONCLUSIVE"
    absent = criteria.evaluate_criterion(_criterion(), {}, [0, 100], 200, 0, absent={"teacher": "none"})
    assert absent["status"] == "FAIL"


class _Model:
    """A fake released model: logits favouring the truth by ``margin`` (members fit better)."""

    class spec:
        patch_size = [4, 4, 4]

    def __init__(self, margin):
        self.margin = margin

    def __call__(self, batch):
        return np.zeros((batch.shape[0], 2, *batch.shape[2:]), dtype=np.float32) + self.margin * np.stack(
            [1 - batch[:, 0], batch[:, 0]], axis=1)


def _case(case_id, patient, value):
    from types import SimpleNamespace

    label = np.zeros((1, 6, 6, 6), dtype=np.uint8)
    label[0, 2:4, 2:4, 2:4] = 1
    image = label.astype(np.float32) * value
    return SimpleNamespace(case_id=case_id, image=image, label=label,
                           record=SimpleNamespace(patient_id=patient))


def test_assess_scores_members_against_test_cases_and_adds_the_test_losses_to_their_rows():
    members = [_case(f"m{i}", f"pm{i}", 1.0) for i in range(6)]  # the model is confident on members
    tests = [_case(f"t{i}", f"pt{i}", 0.2) for i in range(5)]
    rows = {"teacher": [{"case_id": c.case_id} for c in tests]}
    record, estimates, table = membership_stage.assess({"teacher": _Model(4.0)}, ["teacher", "compressed"],
                                                       members, tests, rows, 5, 200, 0)
    assert set(record) == {"teacher"} and record["teacher"]["auc"]["mean"] == 1.0
    assert record["teacher"]["loss_gap"] > 0 and len(table) == 6
    assert all(math.isfinite(r["membership_loss"]) for r in rows["teacher"])
    few, estimates, _ = membership_stage.assess({"teacher": _Model(4.0)}, ["teacher"], members[:1], tests,
                                                rows, 5, 200, 0)
    assert "below the minimum of 5" in estimates["teacher"]["membership_auc"] and few["teacher"]["reason"]
