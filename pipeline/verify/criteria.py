"""Evaluate acceptance criteria: PASS / FAIL / INCONCLUSIVE / NOT APPLICABLE, and the release status.

A criterion is evaluated for each model it names. Without a subgroup, the statistic (mean,
or a bound of its 95 % bootstrap interval) over all cases is compared with the threshold.
With a subgroup, every level (e.g. every site) is evaluated on its own; a level with fewer
cases than ``min_size``, or the level ``unknown`` (attribute not recorded), is INCONCLUSIVE.
A criterion FAILs if any of its results fails, is INCONCLUSIVE if none fails but one is
inconclusive, and PASSes otherwise. The models are releasable only when no criterion fails
(and, if the plan's policy says so, none is inconclusive). Nothing here raises on a failed
criterion: failure is a result, recorded and reported.

A criterion the data cannot answer is NOT APPLICABLE, with the reason: a subgroup criterion
when the source format of its split's cases does not carry the attribute (image folders and
MSD NIfTI carry no site, manufacturer, sex or age; DICOM does, and an attribute de-identification
removed from every case leaves the criterion INCONCLUSIVE: the data could have answered it), a criterion on a metric the data does not define (a volume in mL
on 2D images). It is neither a pass nor a failure: it does not block the release, it is not
counted as passed, and the reason is recorded for the technical file. A plan none of whose
criteria applies shows nothing, so it is not releasable.

A criterion may name a class of the model's label map (``class:``): it judges that class's value
of the metric (``metric[class]`` per case, ``pipeline.verify.metrics.class_metrics``). Without a
class it judges the plain metric, the mean over the foreground classes, which for a binary model
is its one class's value (and a binary model's ``class:`` its one class names that same value).
A class the model does not have is an error in the plan (``check_classes``), not a result.

A criterion may name a perturbation (``perturbation:``): it judges the metric on the perturbed
copies of the test cases (``metric@perturbation`` per case, ``pipeline.verify.robustness_stage``),
e.g. the paired ``dice_drop_vs_clean``. A criterion on a population metric (``membership_auc``,
``pipeline.verify.plan.POPULATION_METRICS``) is not a mean over cases: the stage estimates it with
its own interval (``pipeline.verify.membership``) and hands the estimate in (``estimates``); it is
judged by the same statistic, comparison and threshold, INCONCLUSIVE when it could not be estimated.
"""

from __future__ import annotations

import math
from typing import Sequence

from pipeline.core.errors import UserError
from pipeline.design.items import AcceptanceCriterion
from pipeline.verify import subgroups
from pipeline.verify.metrics import class_key
from pipeline.core.bootstrap import Estimate, bootstrap_mean
from pipeline.verify.plan import POPULATION_METRICS, VnvPlan

PASS, FAIL, INCONCLUSIVE, NOT_APPLICABLE = "PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"
RELEASABLE, NOT_RELEASABLE = "releasable", "not releasable"
LEVEL = 0.95


def compare(value: float, comparison: str, threshold: float) -> str:
    """PASS or FAIL of ``value <comparison> threshold``; INCONCLUSIVE when value is NaN."""
    if value is None or math.isnan(value):
        return INCONCLUSIVE
    ok = value >= threshold if comparison == ">=" else value <= threshold
    return PASS if ok else FAIL


def combine(statuses: Sequence[str]) -> str:
    """FAIL if any fails, else INCONCLUSIVE if any is inconclusive (or none given), else PASS;
    NOT APPLICABLE results are left out, and only results that are all NOT APPLICABLE give it."""
    if statuses and all(s == NOT_APPLICABLE for s in statuses):
        return NOT_APPLICABLE
    statuses = [s for s in statuses if s != NOT_APPLICABLE]
    if FAIL in statuses:
        return FAIL
    if INCONCLUSIVE in statuses or not statuses:
        return INCONCLUSIVE
    return PASS


def evaluate_one(values: Sequence[float], patients: Sequence[str], criterion: AcceptanceCriterion,
                 samples: int, seed: int, min_size: int = 1) -> dict:
    """One comparison of a criterion on one set of cases.

    Args:
        values: the metric per case (NaN = not defined for the case).
        patients: the patient of each case (bootstrap clusters).
        criterion: the acceptance criterion.
        samples: bootstrap resamples.
        seed: bootstrap seed.
        min_size: fewer defined values than this -> INCONCLUSIVE.
    """
    estimate = bootstrap_mean(values, patients, samples=samples, seed=seed, level=LEVEL)
    return judge(estimate, criterion, min_size)


def judge(estimate: Estimate, criterion: AcceptanceCriterion, min_size: int = 1) -> dict:
    """Compare the criterion's statistic of an estimate with its threshold.

    Args:
        estimate: a mean over cases (``bootstrap_mean``) or a population estimate (an attack AUC).
        criterion: the acceptance criterion.
        min_size: fewer defined values than this -> INCONCLUSIVE.
    """
    value = estimate.statistic(criterion.statistic)
    if estimate.n < min_size:
        status = INCONCLUSIVE
        reason = f"{estimate.n} case(s) with a value, below the minimum of {min_size}"
    else:
        status = compare(value, criterion.comparison, criterion.threshold)
        reason = (f"{criterion.statistic} {_fmt(value)} {criterion.comparison} "
                  f"{criterion.threshold:g}" + ("" if status == PASS else " not met"))
        if status == INCONCLUSIVE:
            reason = "no case has a defined value"
    return {"value": None if math.isnan(value) else value, "threshold": criterion.threshold,
            "comparison": criterion.comparison, "statistic": criterion.statistic,
            "status": status, "reason": reason, "estimate": estimate.as_dict()}


def check_classes(plan: VnvPlan, classes: Sequence[str], source: str = "V&V plan") -> None:
    """``UserError`` naming each criterion whose ``class`` is not one of the model's foreground classes."""
    wrong = [f"{c.id} names class {c.class_name!r}" for c in plan.criteria
             if c.class_name is not None and c.class_name not in classes]
    if wrong:
        raise UserError(f"{source}: {'; '.join(wrong)}; the model's classes are {list(classes)} "
                        f"(preprocess.source.classes)")


def metric_key(criterion: AcceptanceCriterion, classes: Sequence[str] = ()) -> str:
    """The per-case key a criterion reads: ``metric@perturbation`` on perturbed cases,
    ``metric[class]`` for a class of a multi-class model, else the plain metric (the mean over
    the foreground classes; binary: its one class)."""
    if criterion.perturbation is not None:
        return perturbed_key(criterion.metric, criterion.perturbation)
    if criterion.class_name is None or len(classes) <= 1:
        return criterion.metric
    return class_key(criterion.metric, criterion.class_name)


def perturbed_key(metric: str, perturbation: str) -> str:
    """The per-case key of a metric on a perturbed copy of the case, e.g. ``dice@noise``."""
    return f"{metric}@{perturbation}"


def evaluate_criterion(criterion: AcceptanceCriterion, rows: dict[str, list[dict]],
                       age_edges: Sequence[int], samples: int, seed: int,
                       absent: dict[str, str] | None = None,
                       undefined: dict[str, str] | None = None, classes: Sequence[str] = (),
                       estimates: dict[str, dict[str, Estimate | str]] | None = None) -> dict:
    """Evaluate one criterion on every model it names.

    Args:
        criterion: the acceptance criterion.
        rows: model name -> per-case records (attributes plus metric values).
        age_edges: age band edges in years.
        samples: bootstrap resamples.
        seed: bootstrap seed.
        absent: model name -> why it was not released; its criteria are not met (FAIL), never
            INCONCLUSIVE: a model that does not exist has not shown anything.
        undefined: metric -> why the data does not define it; a criterion on such a metric, or by
            a subgroup attribute no case records, is NOT APPLICABLE (for every model it names,
            released or not: it asks what the data cannot answer).
        classes: the model's foreground class names (a criterion's ``class`` picks one).
        estimates: model -> population metric -> its estimate, or why it was not estimated
            (INCONCLUSIVE with that reason); a population metric without an entry is INCONCLUSIVE.
    """
    per_model: dict[str, dict] = {}
    inapplicable = _inapplicable(criterion, rows, undefined or {})
    key = metric_key(criterion, classes)
    for model in criterion.models:
        cases = [r for r in rows.get(model, []) if key in r]
        if inapplicable:
            result = _unjudged(criterion, NOT_APPLICABLE, f"not applicable: {inapplicable}")
        elif model in (absent or {}):
            result = _unjudged(criterion, FAIL, f"not met: no {model} model was released ({absent[model]})")
        elif criterion.metric in POPULATION_METRICS:
            result = _population(criterion, model, estimates or {})
        elif criterion.subgroup is None:
            result = evaluate_one(_values(cases, key), _patients(cases), criterion,
                                  samples, seed)
        else:
            result = _by_subgroup(criterion, cases, age_edges, samples, seed, key)
        per_model[model] = result
    status = combine([result["status"] for result in per_model.values()])
    named = {"class_name": criterion.class_name} if criterion.class_name is not None else {}
    if criterion.perturbation is not None:
        named["perturbation"] = criterion.perturbation
    return {"id": criterion.id, "title": criterion.title, "requirements": criterion.requirements,
            "split": criterion.split, "metric": criterion.metric, **named, "statistic": criterion.statistic,
            "comparison": criterion.comparison, "threshold": criterion.threshold,
            "subgroup": criterion.subgroup.model_dump() if criterion.subgroup else None,
            "rationale": criterion.rationale, "status": status, "models": per_model}


def evaluate_plan(plan: VnvPlan, rows: dict[str, list[dict]], samples: int, seed: int,
                  other_splits: dict[str, dict[str, list[dict]]] | None = None,
                  absent: dict[str, str] | None = None, undefined: dict[str, str] | None = None,
                  classes: Sequence[str] = (),
                  estimates: dict[str, dict[str, Estimate | str]] | None = None) -> dict:
    """Evaluate every criterion of the plan and decide the release status.

    Args:
        plan: the validated V&V plan.
        rows: model name -> per-case records of the test split.
        samples: bootstrap resamples.
        seed: bootstrap seed.
        other_splits: split name -> model name -> per-case records, for criteria on another
            split (``val``); a split not given leaves its criteria INCONCLUSIVE (no cases).
        absent: model name -> why it was not released (its criteria FAIL).
        undefined: metric -> why the data does not define it (its criteria are NOT APPLICABLE).
        classes: the model's foreground class names (criteria naming a class read its values).
        estimates: model -> population metric -> its estimate or why there is none (``membership_auc``).
    """
    by_split = {**(other_splits or {}), "test": rows}
    results = {c.id: evaluate_criterion(c, by_split.get(c.split, {}), plan.age_bands_years, samples, seed,
                                        absent, undefined, classes, estimates)
               for c in plan.criteria}
    return {"criteria": results, **release_status(results, plan.release_policy.inconclusive_blocks_release)}


def release_status(results: dict[str, dict], inconclusive_blocks: bool) -> dict:
    """``releasable`` unless a criterion failed (or, by policy, is inconclusive), or none applies.

    NOT APPLICABLE criteria are in none of the lists: each result's ``status`` names them.

    Args:
        results: criterion ID -> evaluated criterion (with ``status``).
        inconclusive_blocks: whether an INCONCLUSIVE criterion also blocks the release.
    """
    failed = sorted(k for k, r in results.items() if r["status"] == FAIL)
    inconclusive = sorted(k for k, r in results.items() if r["status"] == INCONCLUSIVE)
    applicable = [k for k, r in results.items() if r["status"] != NOT_APPLICABLE]
    blocked = bool(failed) or (inconclusive_blocks and bool(inconclusive)) or not applicable
    return {"release_status": NOT_RELEASABLE if blocked else RELEASABLE,
            "failed": failed, "inconclusive": inconclusive,
            "passed": sorted(k for k, r in results.items() if r["status"] == PASS)}


def _by_subgroup(criterion: AcceptanceCriterion, cases: list[dict], age_edges: Sequence[int],
                 samples: int, seed: int, key: str | None = None) -> dict:
    assert criterion.subgroup is not None
    key = key or criterion.metric
    levels = {}
    for level, indices in subgroups.group(cases, criterion.subgroup.by, age_edges).items():
        members = [cases[i] for i in indices]
        result = evaluate_one(_values(members, key), _patients(members), criterion,
                              samples, seed, min_size=criterion.subgroup.min_size)
        if level == subgroups.UNKNOWN:
            result = {**result, "status": INCONCLUSIVE,
                      "reason": f"{criterion.subgroup.by} not recorded for {len(members)} case(s)"}
        levels[level] = {**result, "n_cases": len(members)}
    status = combine([r["status"] for r in levels.values()])
    worst = [r["value"] for r in levels.values() if r["value"] is not None and r["status"] != INCONCLUSIVE]
    pick = min if criterion.comparison == ">=" else max
    return {"status": status, "threshold": criterion.threshold, "comparison": criterion.comparison,
            "statistic": criterion.statistic, "value": pick(worst) if worst else None,
            "reason": f"{len(levels)} subgroup(s) by {criterion.subgroup.by}: "
                      + ", ".join(f"{k} {v['status']}" for k, v in levels.items()),
            "subgroups": levels}


def _inapplicable(criterion: AcceptanceCriterion, rows: dict[str, list[dict]],
                  undefined: dict[str, str]) -> str | None:
    """Why the data cannot answer the criterion (a metric it does not define, a subgroup attribute
    no case of the split records), or None. The attributes are the cases', the same for every model."""
    if criterion.metric in undefined:
        return f"{criterion.metric} {undefined[criterion.metric]}"
    if criterion.subgroup is not None:
        by = criterion.subgroup.by
        cases = [case for model_rows in rows.values() for case in model_rows]
        if cases and not any(subgroups.carried(case, by) for case in cases):
            return (f"the data source of the {criterion.split} split does not record the attribute "
                    f"{subgroups.attribute(by)}")
    return None


def _population(criterion: AcceptanceCriterion, model: str, estimates: dict[str, dict[str, Estimate | str]]) -> dict:
    """A population metric's estimate judged, or INCONCLUSIVE with why it was not estimated."""
    found = estimates.get(model, {}).get(criterion.metric)
    if found is None:
        return _unjudged(criterion, INCONCLUSIVE, f"{criterion.metric} was not estimated for the {model} model")
    if isinstance(found, str):
        return _unjudged(criterion, INCONCLUSIVE, found)
    result = judge(found, criterion)
    if result["status"] == INCONCLUSIVE:
        result["reason"] = f"{criterion.metric} not estimated ({found.n} score(s) in all)"
    return result


def _unjudged(criterion: AcceptanceCriterion, status: str, reason: str) -> dict:
    """A result decided without comparing a value (no model to measure, or nothing the data can answer)."""
    return {"value": None, "threshold": criterion.threshold, "comparison": criterion.comparison,
            "statistic": criterion.statistic, "status": status, "estimate": None, "reason": reason}


def _values(cases: list[dict], metric: str) -> list[float]:
    return [math.nan if c[metric] is None else float(c[metric]) for c in cases]


def _patients(cases: list[dict]) -> list[str]:
    return [str(c.get("patient_id", c.get("case_id", i))) for i, c in enumerate(cases)]


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"
