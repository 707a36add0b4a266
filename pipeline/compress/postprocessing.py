"""Post-processing chosen per model on validation cases (nnU-Net's rule, ``pipeline.runtime.postprocess``)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pipeline.runtime.metrics import dice
from pipeline.runtime.postprocess import keep_largest_component


def decide(masks: Sequence[np.ndarray], truths: Sequence[np.ndarray], mode: str = "auto") -> dict:
    """Whether to keep the largest component, from validation masks and their ground truth.

    Args:
        masks: predicted label maps of the validation cases.
        truths: their ground-truth masks.
        mode: ``auto`` (keep it when it raises the mean Dice) or ``never``.
    Returns:
        ``keep_largest_component``, the mean Dice without and with it, the cases it changed,
        ``val_dice`` (the mean Dice of what is chosen) and ``per_case`` (its Dice per case, in
        the order given).
    """
    if mode not in ("auto", "never"):
        raise ValueError(f"mode must be 'auto' or 'never', not {mode!r}")
    if len(masks) != len(truths):
        raise ValueError(f"{len(masks)} masks but {len(truths)} ground truths")
    raw, kept, changed = [], [], 0
    for mask, truth in zip(masks, truths):
        largest = keep_largest_component(mask)
        changed += int(not np.array_equal(largest, mask))
        raw.append(dice(mask, truth))
        kept.append(dice(largest, truth))
    without = float(np.mean(raw)) if raw else float("nan")
    with_largest = float(np.mean(kept)) if kept else float("nan")
    keep = mode == "auto" and bool(kept) and with_largest > without
    return {"keep_largest_component": keep, "mode": mode, "cases": len(raw), "cases_changed": changed,
            "val_dice_without": round(without, 6), "val_dice_largest_component": round(with_largest, 6),
            "val_dice": round(with_largest if keep else without, 6), "per_case": kept if keep else raw}
