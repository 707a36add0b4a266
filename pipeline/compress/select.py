"""Choose the shipped model from measured candidates, and say why."""

from __future__ import annotations

TEACHER = "teacher_fp32"


def choose(candidates: list[dict], max_dice_drop: float) -> dict:
    """The fastest shippable candidate whose val Dice is within ``max_dice_drop`` of the teacher.

    A candidate is a dict with ``name``, ``source`` (teacher or student name), ``method``,
    ``shippable`` (False with ``not_shippable_because``), ``val_dice``, ``latency_ms``, ``bytes``.
    Ties in latency go to the smaller file. With no eligible candidate the teacher itself is
    shipped uncompressed (accuracy first) and the reason says so.

    Args:
        candidates: measured candidates, including ``teacher_fp32``.
        max_dice_drop: largest allowed val Dice loss against the teacher.
    Returns:
        ``chosen``, ``source``, ``method``, ``reason`` and per-candidate ``verdicts``.
    """
    by_name = {c["name"]: c for c in candidates}
    if TEACHER not in by_name:
        raise ValueError(f"candidates must include {TEACHER}")
    teacher = by_name[TEACHER]
    floor = teacher["val_dice"] - max_dice_drop
    verdicts, eligible = {}, []
    for cand in candidates:
        if cand["name"] == TEACHER:
            verdicts[cand["name"]] = "reference"
        elif cand.get("error"):
            verdicts[cand["name"]] = f"failed: {cand['error']}"
        elif not cand["shippable"]:
            verdicts[cand["name"]] = f"not shippable: {cand['not_shippable_because']}"
        elif cand["val_dice"] < floor:
            verdicts[cand["name"]] = (f"val Dice {cand['val_dice']:.4f} below the teacher's "
                                      f"{teacher['val_dice']:.4f} - {max_dice_drop}")
        else:
            verdicts[cand["name"]] = "eligible"
            eligible.append(cand)
    if not eligible:
        return {"chosen": TEACHER, "source": "teacher", "method": "none", "verdicts": verdicts,
                "reason": "no candidate kept val Dice within "
                          f"{max_dice_drop} of the teacher ({teacher['val_dice']:.4f}): the teacher "
                          "is shipped uncompressed"}
    best = min(eligible, key=lambda c: (c["latency_ms"], c["bytes"]))
    verdicts[best["name"]] = "chosen"
    reason = (f"{best['name']} is the fastest eligible candidate: {best['latency_ms']:.1f} ms vs "
              f"{teacher['latency_ms']:.1f} ms per window ({teacher['latency_ms'] / best['latency_ms']:.2f}x), "
              f"{teacher['bytes'] / best['bytes']:.2f}x smaller, val Dice {best['val_dice']:.4f} vs "
              f"teacher {teacher['val_dice']:.4f} (allowed drop {max_dice_drop})")
    return {"chosen": best["name"], "source": best["source"], "method": best["method"],
            "verdicts": verdicts, "reason": reason}
