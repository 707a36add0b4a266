"""Explainability evidence for the verify stage: best, median and worst test cases by Dice.

Grad-CAM and occlusion need gradients or many forward passes of the network, so they run on
the PyTorch teacher that the teacher ONNX file was exported from (the export stage's parity
check ties the two); the masks shown and the metrics in the captions are those of the
teacher ONNX file. With more than one foreground class the first class (class 1) is explained:
its Grad-CAM and occlusion maps, its ground truth and prediction (one region, so one sanity
metric; explaining every class would multiply the occlusion cost by the classes), and the entry
names it (``explained_class``). Each PNG is named by role and case and listed with its requirement IDs,
its SHA-256 and the attribution-mass sanity metric, which is also added to the case's row.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from pipeline.core.errors import UserError
from pipeline.core.provenance import file_sha256
from pipeline.data.cache import LoadedCase
from pipeline.verify import evidence, explain
from pipeline.verify.params import ExplainParams

REQUIREMENTS = ["SRS-VNV-005"]
RISKS = ["RISK-011"]


def pick_cases(rows: list[dict], roles: list[str]) -> dict[str, list[str]]:
    """Case ID -> roles (best / median / worst by Dice; ties broken by case ID).

    Args:
        rows: per-case records with ``case_id`` and ``dice``.
        roles: which representatives to pick.
    """
    ranked = sorted(rows, key=lambda r: (r["dice"], r["case_id"]))
    index = {"worst": 0, "median": (len(ranked) - 1) // 2, "best": len(ranked) - 1}
    chosen: dict[str, list[str]] = {}
    for role in roles:
        chosen.setdefault(ranked[index[role]]["case_id"], []).append(role)
    return chosen


def explain_cases(params: ExplainParams, checkpoint: Path, cases: list[LoadedCase], rows: list[dict],
                  masks: dict[str, np.ndarray], out_dir: Path, threads: int,
                  final_dir: Path | None = None, expected_weights: str | None = None,
                  class_name: str | None = None) -> list[dict]:
    """Explain the representative cases; write PNGs to ``out_dir``; return the evidence index.

    Args:
        params: the ``verify.explain`` params.
        checkpoint: the torch teacher checkpoint.
        cases: the loaded test cases (image, label, and the record with their spacing).
        rows: the teacher ONNX per-case records (updated with the sanity metric).
        masks: case ID -> teacher ONNX predicted mask.
        out_dir: where the PNGs are written (the stage's temporary output folder).
        threads: torch threads (pinned for reproducible maps).
        final_dir: where the PNGs will live once the output is in place (their recorded
            ``path``, relative to the repository root when the stage runs there).
        expected_weights: the ``weights_sha256`` recorded in the teacher ONNX metadata; the
            checkpoint must hash to it, or the evidence would explain another model.
        class_name: the name of class 1 when the model has more than one foreground class (it is
            the class explained; recorded in each entry); None for a binary model.
    """
    from pipeline.verify.teacher import load_checked

    torch.set_num_threads(threads)
    net, config, actual = load_checked(Path(checkpoint), expected_weights,
                                       "its explanations would describe another model")
    check_target_layer(net, params.target_layer, checkpoint)
    roi = [int(v) for v in config["patch_size"]]
    by_id = {c.case_id: c for c in cases}
    row_by_id = {r["case_id"]: r for r in rows}
    entries = []
    for case_id, roles in pick_cases(rows, list(params.cases)).items():
        case, row = by_id[case_id], row_by_id[case_id]
        image = np.asarray(case.image, dtype=np.float32)[0]
        truth = np.asarray(case.label)[0] == 1
        pred = masks[case_id]
        maps = evidence.explain_case(net, image, truth, pred, case.record.spacing, roi,
                                     params.target_layer, params.occlusion_mask_voxels,
                                     params.occlusion_overlap, params.dilation_mm, params.method)
        row["attribution_mass_in_region"] = maps["attribution_mass_in_region"]
        # a 2D image is shown whole: no slices to choose
        slices = explain.informative_slices(maps["gradcam"], params.slices, structure=truth) if image.ndim == 3 else []
        role = "-".join(roles)
        path = Path(out_dir) / f"explain_{role}_{case_id}.png"
        text = evidence.caption(case_id, role, "teacher", row, REQUIREMENTS)
        evidence.render_png(path, image, truth, pred, maps["gradcam"], maps["occlusion"], slices, text,
                            evidence.CAM_TITLES[params.method])
        entries.append({"path": str(Path(final_dir or out_dir) / path.name), "file": path.name,
                        "teacher_weights_sha256": actual,
                        "weights_checked_against_onnx": bool(expected_weights
                                                             and expected_weights != "unknown"),
                        "caption": text.replace("\n", "; "),
                        "sha256": file_sha256(path), "case_id": case_id,
                        "roles": roles, "requirements": REQUIREMENTS, "risks": RISKS,
                        "criteria_metric": "attribution_mass_in_region", "slices": slices,
                        "explained_region": maps["explained_region"],
                        "attribution_mass_in_region": _num(maps["attribution_mass_in_region"]),
                        "occlusion_mass_in_region": _num(maps["occlusion_mass_in_region"]),
                        "cam_method": params.method,
                        f"{maps['other_cam']}_mass_in_region": _num(maps["other_cam_mass_in_region"]),
                        "dice": row["dice"], "hd95_mm": row["hd95_mm"],
                        "target_layer": params.target_layer, "dilation_mm": params.dilation_mm,
                        **({"explained_class": class_name} if class_name else {})})
    return entries


def check_target_layer(net: torch.nn.Module, layer: str, checkpoint: Path) -> None:
    """A one-line ``UserError`` when ``verify.explain.target_layer`` is not a layer of the teacher
    (the default is a decoder block of a U-Net of at least three levels), naming the decoder blocks
    this network has."""
    names = dict(net.named_modules())
    if layer in names:
        return
    decoders = [n for n in names if re.fullmatch(r"model(\.1\.submodule)+\.2", n)]
    hint = f"; its decoder blocks: {', '.join(decoders)}" if decoders else ""
    raise UserError(f"verify.explain.target_layer {layer!r} is not a layer of the teacher network in "
                    f"{checkpoint}{hint} (or set verify.explain.enabled: false)")


def _num(value: float):
    return None if value != value else float(value)
