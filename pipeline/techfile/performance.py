"""Performance tables the documents show, re-shaped from ``vnv.json`` (nothing is re-computed).

``criterion_rows``: per acceptance criterion and model, the row on all cases and one row per
subgroup. For a criterion judged per subgroup the all-cases row shows the overall estimate of the
metric on the same split (``summary`` or ``external_summary``), never the worst subgroup's value
(which ``vnv.json`` stores as the model's ``value`` because it decides the result).
``subgroup_rows``: the model card's per-subgroup performance with n and the 95 % interval.
``class_rows``: with more than one foreground class, each class's performance (``summary_per_class``);
none for a binary model, whose one class is the overall row.
"""

from __future__ import annotations

from typing import Any

SUMMARY_OF_SPLIT = {"test": "summary", "external": "external_summary"}
STATISTIC_KEY = {"point": "mean", "ci95_lower": "ci_lower", "ci95_upper": "ci_upper"}
CARD_METRICS = ("dice", "sensitivity")
CLASS_METRICS = ("dice", "hd95_mm", "nsd", "sensitivity")
SUBGROUP_ORDER = ("site", "manufacturer", "sex", "age_band")


def criterion_rows(criteria: list, vnv: dict) -> list[dict[str, Any]]:
    """One row per criterion, model and group (``all`` first, then each subgroup).

    Args:
        criteria: the acceptance criteria (design-item models) in plan order.
        vnv: ``metrics/vnv.json``.
    """
    rows = []
    for c in criteria:
        result = vnv["criteria"][c.id]
        for model, m in result["models"].items():
            subgroups = m.get("subgroups") or {}
            if subgroups:
                overall = overall_estimate(vnv, model, c.split, c.metric, getattr(c, "class_name", None))
                rows.append({"criterion": c, "model": model, "group": "all", "level": None,
                             "n": (overall or {}).get("n"),
                             "value": (overall or {}).get(STATISTIC_KEY[c.statistic]),
                             "estimate": overall or {}, "status": None,
                             "reason": ("judged per subgroup below; all cases shown for reference"
                                        if overall else f"no overall {c.metric} recorded for the {c.split} split")})
                for level, g in subgroups.items():
                    rows.append({"criterion": c, "model": model, "group": c.subgroup.by if c.subgroup else "subgroup",
                                 "level": level, "n": g.get("n_cases"), "value": g.get("value"),
                                 "estimate": g.get("estimate") or {}, "status": g.get("status", "missing"),
                                 "reason": g.get("reason", "")})
            else:
                est = m.get("estimate") or {}
                rows.append({"criterion": c, "model": model, "group": "all", "level": None,
                             "n": est.get("n"), "value": m.get("value"), "estimate": est,
                             "status": m.get("status", "missing"), "reason": m.get("reason", "")})
    return rows


def overall_estimate(vnv: dict, model: str, split: str, metric: str, class_name: str | None = None) -> dict | None:
    """The all-cases estimate of ``metric`` for ``model`` on ``split`` (of one class of a multi-class
    model on the test split, when named), or None when not recorded."""
    summary = vnv.get(SUMMARY_OF_SPLIT.get(split, ""), None) or {}
    by_class = (vnv.get("summary_per_class") or {}).get(model) or {}
    if class_name is not None and by_class:
        if split != "test":
            return None
        summary = {model: by_class.get(class_name) or {}}
    est = (summary.get(model) or {}).get(metric)
    return est if isinstance(est, dict) else None


def subgroup_rows(vnv: dict, metrics: tuple[str, ...] = CARD_METRICS) -> list[dict[str, Any]]:
    """Per model: all test cases, then every subgroup level, with n and each metric's estimate.

    Args:
        vnv: ``metrics/vnv.json`` (``summary`` and ``subgroups`` of the locked test split).
        metrics: the metrics shown.
    """
    rows = []
    for model in sorted(vnv.get("subgroups") or {}):
        overall = (vnv.get("summary") or {}).get(model) or {}
        first = next((overall[m] for m in metrics if isinstance(overall.get(m), dict)), {})
        rows.append({"model": model, "by": "all", "level": "all test cases", "n": first.get("n"),
                     "metrics": {m: overall.get(m) or {} for m in metrics}})
        groups = vnv["subgroups"][model]
        for by in sorted(groups, key=lambda b: (SUBGROUP_ORDER.index(b) if b in SUBGROUP_ORDER else 99, b)):
            for level, g in groups[by].items():
                rows.append({"model": model, "by": by, "level": level, "n": g.get("n_cases"),
                             "metrics": {m: g.get(m) or {} for m in metrics}})
    return rows


def class_rows(vnv: dict, metrics: tuple[str, ...] = CLASS_METRICS) -> list[dict[str, Any]]:
    """Per model and foreground class (more than one class only): n and each metric's estimate on
    the locked test split, after the row of their mean (the plain metrics every criterion without a
    class judges).

    Args:
        vnv: ``metrics/vnv.json`` (``summary`` and ``summary_per_class``).
        metrics: the metrics shown.
    """
    rows = []
    for model, classes in sorted((vnv.get("summary_per_class") or {}).items()):
        overall = (vnv.get("summary") or {}).get(model) or {}
        rows.append({"model": model, "class_name": "mean over the classes",
                     "n": (overall.get(metrics[0]) or {}).get("n"), "metrics": {m: overall.get(m) or {} for m in metrics}})
        for name, summary in classes.items():
            rows.append({"model": model, "class_name": name, "n": (summary.get(metrics[0]) or {}).get("n"),
                         "metrics": {m: summary.get(m) or {} for m in metrics}})
    return rows
