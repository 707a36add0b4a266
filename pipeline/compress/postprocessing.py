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

Ties keep the simpler choice (the higher threshold, then no component filter), so a model
whose validation cases do not ask for a change keeps the argmax.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.runtime.metrics import dice
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
        ``foreground_threshold``, ``keep_largest_component``, ``val_dice_by_threshold``
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
    if logits and any(np.asarray(x).shape[0] != 2 for x in logits):
        grid = [0.5]
    table, best = {}, None
    for threshold in grid:
        raw, kept, changed = [], [], 0
        for case_logits, truth in zip(logits, truths):
            mask = to_mask(case_logits, threshold)
            largest = keep_largest_component(mask) if mode == "auto" else mask
            changed += int(not np.array_equal(largest, mask))
            raw.append(dice(mask, truth))
            kept.append(dice(largest, truth))
        without = float(np.mean(raw)) if raw else float("nan")
        with_largest = float(np.mean(kept)) if kept else float("nan")
        table[threshold] = {"without": round(without, 6), "largest_component": round(with_largest, 6)}
        for keep, value, per_case in ((False, without, raw), (True, with_largest, kept)):
            if keep and (mode != "auto" or not kept):
                continue
            if best is None or value > best["val_dice"]:
                best = {"foreground_threshold": threshold, "keep_largest_component": keep, "val_dice": value,
                        "per_case": per_case, "cases_changed": changed, "without": without,
                        "with_largest": with_largest}
    return {"foreground_threshold": best["foreground_threshold"],
            "keep_largest_component": best["keep_largest_component"], "mode": mode, "cases": len(logits),
            "cases_changed": best["cases_changed"], "val_dice_without": round(best["without"], 6),
            "val_dice_largest_component": round(best["with_largest"], 6),
            "val_dice": round(best["val_dice"], 6), "per_case": best["per_case"],
            "val_dice_by_threshold": {f"{t:g}": table[t] for t in sorted(table, reverse=True)}}
