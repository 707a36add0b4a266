"""Summaries of the per-case results: estimates with CIs, subgroups, worst cases, the CSV table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

from pipeline.core.atomic import atomic_file
from pipeline.verify import subgroups
from pipeline.core.bootstrap import bootstrap_mean
from pipeline.verify.metrics import METRICS, class_key

COLUMNS = ("model", "case_id", "patient_id", "site", "manufacturer", "sex", "age", *METRICS,
           "volume_pred_ml", "volume_truth_ml", "inference_ms", "dice_drop_vs_teacher", "speedup_vs_teacher",
           "size_reduction_vs_teacher", "attribution_mass_in_region", "membership_loss")


def summaries(rows: dict[str, list[dict]], samples: int, seed: int) -> dict:
    """Per model and metric: mean with its 95 % bootstrap interval (patients resampled).

    Args:
        rows: model name -> per-case records.
        samples: bootstrap resamples.
        seed: bootstrap seed.
    """
    return {model: _estimates(cases, samples, seed) for model, cases in rows.items()}


def class_summaries(rows: dict[str, list[dict]], classes: Sequence[str], samples: int, seed: int) -> dict:
    """Per model and class: every metric's mean with its 95 % bootstrap interval (``metric[class]``);
    empty for a binary model, whose ``summaries`` are its one class's.

    Args:
        rows: model name -> per-case records.
        classes: the foreground class names.
        samples: bootstrap resamples.
        seed: bootstrap seed.
    """
    if len(classes) <= 1:
        return {}
    return {model: {name: _estimates(cases, samples, seed, name) for name in classes}
            for model, cases in rows.items()}


def subgroup_summaries(rows: dict[str, list[dict]], age_edges: Sequence[int], samples: int,
                       seed: int) -> dict:
    """Per model, subgroup attribute and level: case count and metric estimates (no level for an
    attribute that no case records: there is no subgroup to summarise).

    Args:
        rows: model name -> per-case records.
        age_edges: age band edges in years.
        samples: bootstrap resamples.
        seed: bootstrap seed.
    """
    out: dict = {}
    for model, cases in rows.items():
        out[model] = {}
        for by in subgroups.BY:
            recorded = any(subgroups.recorded(case, by) for case in cases)
            levels = subgroups.group(cases, by, age_edges) if recorded else {}
            out[model][by] = {level: {"n_cases": len(idx),
                                      **_estimates([cases[i] for i in idx], samples, seed)}
                              for level, idx in levels.items()}
    return out


def worst_cases(rows: dict[str, list[dict]], count: int) -> dict:
    """The ``count`` cases with the lowest Dice per model (ties broken by case ID)."""
    keep = ("case_id", "site", "manufacturer", "dice", "hd95_mm", "nsd", "abs_volume_error_ml")
    return {model: [{k: _clean(c.get(k)) for k in keep}
                    for c in sorted(cases, key=lambda c: (c["dice"], c["case_id"]))[:count]]
            for model, cases in rows.items()}


def write_case_table(path: Path, rows: dict[str, list[dict]], classes: Sequence[str] = ()) -> None:
    """Write the per-case table (one row per model and case) as CSV, atomically; with more than one
    foreground class, each class's metrics follow as columns ``metric[class]``, then the metrics on
    perturbed copies (``metric@perturbation``) that any row has."""
    columns = list(COLUMNS)
    if len(classes) > 1:
        columns += [class_key(metric, name) for name in classes for metric in METRICS]
    columns += sorted({k for cases in rows.values() for case in cases for k in case if "@" in k})
    with atomic_file(Path(path)) as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for model in sorted(rows):
            for case in sorted(rows[model], key=lambda c: c["case_id"]):
                writer.writerow({k: _cell(model if k == "model" else case.get(k)) for k in columns})


def _estimates(cases: list[dict], samples: int, seed: int, class_name: str | None = None) -> dict:
    out = {}
    for metric in METRICS:
        key = metric if class_name is None else class_key(metric, class_name)
        values = [math.nan if c.get(key) is None else float(c[key]) for c in cases]
        patients = [str(c.get("patient_id")) for c in cases]
        out[metric] = bootstrap_mean(values, patients, samples=samples, seed=seed).as_dict()
    return out


def _clean(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
