"""The membership-inference assessment of the released models for the verify stage.

For every model that a ``membership_auc`` criterion names, the loss-threshold attack
(``pipeline.verify.membership``) scores each case by minus the model's mean voxel cross-entropy
against the ground truth on the training-patch window centred on the structure
(``pipeline.verify.window``), computed by the released ONNX file itself: members are the training
split (read here, it is not locked), non-members the locked test split. The test cases' losses
are added to their per-case rows (``membership_loss``); the training cases' are written to
``membership.csv`` beside the per-case table. What ``vnv.json`` records per model: the AUC with
its patient-bootstrap interval, the members' and non-members' mean loss and their gap (non-member
minus member mean loss: positive when the model fits its training cases better), and the
counts; the criteria judge the AUC.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from pipeline.core.atomic import atomic_file
from pipeline.data.cache import LoadedCase
from pipeline.verify import membership, window
from pipeline.verify.criteria import LEVEL
from pipeline.verify.plan import POPULATION_METRICS

METRIC = "membership_auc"
LOSS = "membership_loss"  # the per-case key of a test case's attack loss
SCORE = ("minus the mean voxel cross-entropy of the released ONNX model against the ground truth on the "
         "training-patch window centred on the structure")


def wanted(plan) -> list[str]:
    """The models the plan's ``membership_auc`` criteria name (sorted)."""
    return sorted({m for c in plan.criteria if c.metric in POPULATION_METRICS for m in c.models})


def case_loss(model, case: LoadedCase) -> float:
    """The model's mean cross-entropy on the window of its patch size centred on the case's structure
    (NaN when the model's output is not finite)."""
    roi = list(model.spec.patch_size)
    label = np.asarray(case.label)[0]
    box = window.centred(label != 0, roi)
    patch, inner = window.cut(np.asarray(case.image, dtype=np.float32), box, roi)
    truth, _ = window.cut(label[None].astype(np.int64), box, roi)
    logits = np.asarray(model(patch[None]), dtype=np.float32)[0]
    if not np.all(np.isfinite(logits)):
        return math.nan
    inside = (slice(None), *inner)
    return window.cross_entropy(logits[inside], truth[inside][0])


def assess(models: dict, names: list[str], members: list[LoadedCase], test_cases: list[LoadedCase],
           rows: dict[str, list[dict]], min_cases: int, samples: int, seed: int) -> tuple[dict, dict, list[dict]]:
    """Score members and non-members with each named model; return what ``vnv.json`` records, the
    estimates the criteria judge (model -> {``membership_auc``: Estimate or why there is none}) and
    the members' per-case losses (``write_table``).

    Args:
        models: model name -> released ``OnnxModel`` (a named model not released is left out).
        names: ``wanted(plan)``.
        members: the training split's cases.
        test_cases: the locked test cases (non-members), in the order of ``rows``.
        rows: model name -> per-case rows of the test split (``membership_loss`` is added).
        min_cases: fewer scores than this in either group: not estimated.
        samples: bootstrap resamples.
        seed: bootstrap seed.
    """
    record, estimates, member_rows = {}, {}, []
    for name in names:
        if name not in models:
            continue
        model = models[name]
        member_loss = [case_loss(model, c) for c in members]
        test_loss = [case_loss(model, c) for c in test_cases]
        for row, case, loss in zip(rows[name], test_cases, test_loss):
            if row["case_id"] != case.case_id:
                raise ValueError(f"row {row['case_id']} is not case {case.case_id}")
            row[LOSS] = loss
        member_rows += [{"model": name, "case_id": c.case_id, "patient_id": c.record.patient_id, LOSS: loss}
                        for c, loss in zip(members, member_loss)]
        estimate = membership.bootstrap_auc([-v for v in member_loss], [c.record.patient_id for c in members],
                                            [-v for v in test_loss], [c.record.patient_id for c in test_cases],
                                            samples, seed, LEVEL, min_cases)
        defined_m = int(np.isfinite(member_loss).sum()) if member_loss else 0
        defined_n = int(np.isfinite(test_loss).sum()) if test_loss else 0
        why = None
        if math.isnan(estimate.mean):
            why = (f"{METRIC} not estimated: {defined_m} training and {defined_n} test case(s) with a "
                   f"finite loss, below the minimum of {min_cases} per group (verify.membership.min_cases)")
        estimates[name] = {METRIC: why or estimate}
        record[name] = {"auc": estimate.as_dict(), "members": len(members), "nonmembers": len(test_cases),
                        "members_scored": defined_m, "nonmembers_scored": defined_n,
                        "member_mean_loss": _mean(member_loss), "nonmember_mean_loss": _mean(test_loss),
                        # positive: the model fits its training cases better than unseen ones
                        "loss_gap": _num(membership.gap([-v for v in member_loss], [-v for v in test_loss])),
                        "member_split": "train", "nonmember_split": "test", "score": SCORE,
                        "reason": why or ""}
    return record, estimates, member_rows


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value


def write_table(path: Path, rows: list[dict]) -> None:
    """The training cases' attack losses per model as CSV (written atomically)."""
    with atomic_file(Path(path)) as handle:
        writer = csv.DictWriter(handle, fieldnames=["model", "split", "case_id", "patient_id", LOSS],
                                lineterminator="\n")
        writer.writeheader()
        for row in sorted(rows, key=lambda r: (r["model"], r["case_id"])):
            loss = row[LOSS]
            writer.writerow({**row, "split": "train", LOSS: "" if not math.isfinite(loss) else f"{loss:.6g}"})
