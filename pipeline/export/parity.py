"""Parity of an ONNX export with its PyTorch model on whole validation cases.

Both run the same sliding windows (``pipeline.runtime.sliding``), the ONNX file on the runtime
it records; the check compares the
blended logits voxel by voxel: the largest absolute difference and the number of voxels whose
class at the model's operating point differs where PyTorch decided it by more than twice the
logit tolerance (``pipeline.runtime.sliding.decision_differences``; differences nearer the
operating point are counted apart as ties). A failed check raises ``ParityError`` naming the
model, the cases, the counts and the limits.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import UserError
from pipeline.data.cache import LoadedCase
from pipeline.runtime import postprocess
from pipeline.runtime.metrics import mean_dice
from pipeline.runtime.sliding import decision_differences, predict_volume, to_mask, torch_predict_volume


class ParityError(UserError):
    """The ONNX file does not compute what its PyTorch model computes."""


def compare(module, onnx_model, cases: list[LoadedCase], spec, atol: float = 0.0) -> list[dict]:
    """Per case: max |logit difference|, class mismatches and ties, voxels, and Dice of the ONNX mask.

    The logits, and the masks at the model's operating point (``spec.foreground_threshold``;
    0.5 is the argmax), are compared as they come out of the networks; the Dice is of
    the ONNX mask after the post-processing ``spec`` asks for (what ``predict`` returns).

    Args:
        module: the PyTorch network.
        onnx_model: an ``OnnxModel`` (or session) exported from it.
        cases: preprocessed cases (their ``case_id``, ``image`` (C, ...) and ``label`` (1, ...)).
        spec: the preprocessing specification (window size, overlap).
        atol: the logit tolerance; a differing voxel within ``2 * atol`` of the operating point
            in PyTorch's logits is a tie (``decision_ties``), not a mismatch.
    """
    rows = []
    for case in cases:
        reference = torch_predict_volume(module, case.image, spec)
        exported = predict_volume(onnx_model, case.image, spec)
        threshold = getattr(spec, "foreground_threshold", 0.5)
        mask = to_mask(exported, threshold)
        mismatches, ties = decision_differences(reference, exported, threshold, atol)
        rows.append({"case_id": case.case_id, "voxels": int(mask.size),
                     "max_abs_diff": float(np.abs(reference - exported).max()),
                     "argmax_mismatches": mismatches, "decision_ties": ties,
                     "dice": mean_dice(postprocess.apply(mask, spec), np.asarray(case.label)[0],
                                       len(spec.labels))})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Worst difference, total mismatches and mean Dice over the cases."""
    return {"cases": len(rows), "max_abs_diff": max((r["max_abs_diff"] for r in rows), default=0.0),
            "argmax_mismatches": sum(r["argmax_mismatches"] for r in rows),
            "decision_ties": sum(r.get("decision_ties", 0) for r in rows),
            "voxels": sum(r["voxels"] for r in rows),
            "mean_dice": float(np.mean([r["dice"] for r in rows])) if rows else float("nan")}


def check(role: str, rows: list[dict], atol: float, max_mismatches: int = 0) -> None:
    """Raise ``ParityError`` when any case exceeds ``atol`` or the argmax mismatch budget."""
    if not rows:
        raise ParityError(f"parity of {role}: no validation case to compare on")
    bad = [r for r in rows if r["max_abs_diff"] > atol]
    total = sum(r["argmax_mismatches"] for r in rows)
    if bad or total > max_mismatches:
        worst = max(rows, key=lambda r: r["max_abs_diff"])
        detail = ", ".join(f"{r['case_id']}: {r['max_abs_diff']:.2e} / {r['argmax_mismatches']} voxels"
                           for r in rows if r in bad or r["argmax_mismatches"])
        raise ParityError(
            f"parity check failed for {role}: max |logit diff| {worst['max_abs_diff']:.3e} "
            f"(limit {atol:.1e}), {total} of {sum(r['voxels'] for r in rows)} voxels with a different "
            f"class beyond the {2 * atol:.1e} tie margin (limit {max_mismatches}); per case "
            f"(diff / mismatches): {detail}")

