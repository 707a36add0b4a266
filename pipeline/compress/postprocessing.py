"""Post-processing chosen per model on validation cases: the operating point and nnU-Net's rule.

Two decisions, made together on the validation cases only, stored in the model file's
preprocessing specification by the export stage and applied by ``predict``, the parity gate
and V&V (``pipeline.runtime.sliding.to_mask``, ``pipeline.runtime.postprocess``), so what is
verified is what runs:

- the operating point of a two-class model: a voxel is foreground when its foreground
  probability exceeds ``t``, from a grid that holds 0.5 (the argmax). A network trained with a
  Dice + cross-entropy loss on small structures tends to call their rim background (on the
  default cohort the teacher's validation precision was 0.92 and its sensitivity 0.83 at 0.5):
  the threshold that maximises the mean validation Dice corrects that bias, and raises
  sensitivity, whose misses are the clinically costlier error (VAL-006);
- keep the largest connected component, only where it raises the mean validation Dice.

The choice follows the one-standard-error rule (Breiman et al., *Classification and Regression
Trees*, 1984; Hastie et al., *The Elements of Statistical Learning*, 7.10): the simplest choice
(the threshold nearest 0.5, the higher of two equally near, then no component filter) whose mean
validation Dice is within one standard error of the best one, the standard error of the mean of
their paired per-case differences. The best of nine thresholds on 15 cases is an optimistic pick:
on the default cohort the maximum moved the teacher to 0.15 for a gain of 0.010 on validation,
and the same threshold over-called lesions of one test site. A change the validation cases ask
for beyond their noise is still made; a model whose cases do not ask for one keeps the argmax.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.runtime.metrics import mean_dice
from pipeline.runtime.postprocess import keep_largest_component
from pipeline.runtime.sliding import to_mask


def decide(logits: Sequence[np.ndarray], truths: Sequence[np.ndarray], mode: str = "auto",
           thresholds: Sequence[float] = (0.5,)) -> dict:
    """The operating point and whether to keep the largest component, from validation logits.

    Args:
        logits: the model's logits ``(classes, *spatial)`` per validation case.
        truths: their ground-truth masks.
        mode: ``auto`` (keep the largest component when it raises the mean Dice) or ``never``.
        thresholds: foreground-probability operating points to try (two-class models; more
            classes use the argmax, 0.5, only).
    Returns:
        ``foreground_threshold``, ``keep_largest_component`` (by the one-standard-error rule),
        ``best`` (the choice with the highest mean Dice, its mean and the standard error that
        the chosen one had to stay within), ``val_dice_by_threshold``
        (threshold -> mean Dice without and with the component rule), the mean Dice without
        and with the rule at the chosen threshold, the cases the rule changed there,
        ``val_dice`` (the mean Dice of what is chosen) and ``per_case`` (its Dice per case, in
        the order given).
    """
    if mode not in ("auto", "never"):
        raise ValueError(f"mode must be 'auto' or 'never', not {mode!r}")
    if len(logits) != len(truths):
        raise ValueError(f"{len(logits)} logit maps but {len(truths)} ground truths")
    grid = sorted({float(t) for t in thresholds} | {0.5}, key=lambda t: (abs(t - 0.5), -t))
    argmax_only = bool(logits) and any(np.asarray(x).shape[0] != 2 for x in logits)
    if argmax_only:  # the operating point is a two-class notion: more classes take the argmax
        grid = [0.5]
    table, options = {}, []
    for threshold in grid:
        raw, kept, changed = [], [], 0
        for case_logits, truth in zip(logits, truths):
            mask = to_mask(case_logits, threshold)
            largest = keep_largest_component(mask) if mode == "auto" else mask
            changed += int(not np.array_equal(largest, mask))
            labels = int(np.asarray(case_logits).shape[0])  # per case the mean over the foreground classes
            raw.append(mean_dice(mask, truth, labels))
            kept.append(mean_dice(largest, truth, labels))
        without = float(np.mean(raw)) if raw else float("nan")
        with_largest = float(np.mean(kept)) if kept else float("nan")
        table[threshold] = {"without": round(without, 6), "largest_component": round(with_largest, 6)}
        for keep, value, per_case in ((False, without, raw), (True, with_largest, kept)):
            if keep and (mode != "auto" or not kept):
                continue
            options.append({"foreground_threshold": threshold, "keep_largest_component": keep, "val_dice": value,
                            "per_case": per_case, "cases_changed": changed, "without": without,
                            "with_largest": with_largest})
    chosen, best, margin = one_standard_error(options)
    extra = ({"operating_point": f"argmax ({int(np.asarray(logits[0]).shape[0])} classes: a foreground "
                                 f"threshold applies to two-class models only)"} if argmax_only else {})
    return {**extra, "foreground_threshold": chosen["foreground_threshold"],
            "keep_largest_component": chosen["keep_largest_component"], "mode": mode, "cases": len(logits),
            "rule": "one standard error",
            "best": {"foreground_threshold": best["foreground_threshold"],
                     "keep_largest_component": best["keep_largest_component"],
                     "val_dice": round(best["val_dice"], 6), "standard_error": round(margin, 6)},
            "cases_changed": chosen["cases_changed"], "val_dice_without": round(chosen["without"], 6),
            "val_dice_largest_component": round(chosen["with_largest"], 6),
            "val_dice": round(chosen["val_dice"], 6), "per_case": chosen["per_case"],
            "val_dice_by_threshold": {f"{t:g}": table[t] for t in sorted(table, reverse=True)}}


def one_standard_error(options: Sequence[dict]) -> tuple[dict, dict, float]:
    """(chosen, best, standard error): the first option, in the order given (simplest first),
    whose mean ``val_dice`` is within one standard error of the best one's.

    The standard error is that of the mean of the paired per-case differences (best - option),
    so cases that are hard for every option do not widen it. With one case there is no
    standard error and the best option is chosen only if no simpler one equals it.
    """
    best = max(options, key=lambda o: o["val_dice"])  # max keeps the first (simplest) of equals
    best_cases = np.asarray(best["per_case"], dtype=float)
    for option in options:
        differences = best_cases - np.asarray(option["per_case"], dtype=float)
        margin = float(np.std(differences, ddof=1) / np.sqrt(len(differences))) if len(differences) > 1 else 0.0
        if option["val_dice"] >= best["val_dice"] - margin - 1e-12:
            best_margin = margin
            return option, best, best_margin
    return best, best, 0.0
