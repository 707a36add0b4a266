"""The compress core: distil students, quantize, measure every candidate on this CPU, choose.

Candidates: the FP32 ONNX teacher (the reference), each distilled student as FP32 ONNX, and
(when enabled) INT8 QDQ copies of both. Each is measured the same way: file size, median ORT
latency of one window, validation Dice through ORT. INT8 files are measured and recorded but
not shippable: the export parity gate (|logit diff| <= 1e-4 against PyTorch) cannot hold for
them. Distillation and calibration use training cases only, selection uses validation
cases; the locked test split is never loaded (and checked by case ID before use). The
post-processing of each candidate (keep the largest connected component or not) is chosen on
the same validation cases and recorded in the choice for the export stage.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.atomic import write_json
from pipeline.compress import distill, guard, quantize, select
from pipeline.compress.measure import measure
from pipeline.compress.params import CompressParams, StudentParams
from pipeline.export.latency import median_seconds, parameter_count
from pipeline.export.onnx_io import export_onnx
from pipeline.export.spec import WindowSpec
from pipeline.preprocess.cache import load_cases
from pipeline.train import determinism
from pipeline.export.checkpoint import load_model
from pipeline.train.model import build_unet, save_checkpoint

INT8_REASON = "INT8 logits cannot meet the export parity gate against the PyTorch model"
EXPORT_OPSET = 17


@dataclass(frozen=True)
class CompressPaths:
    """Inputs and outputs of the stage."""

    teacher: Path
    cache: Path
    splits: Path
    student: Path
    choice: Path
    metrics: Path


def run(params: CompressParams, paths: CompressPaths, progress=None) -> dict:
    """Build and measure the candidates, write the chosen student, the choice and the metrics.

    Args:
        params: the validated ``compress`` section.
        paths: teacher checkpoint, cache, splits and outputs.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    pinned = determinism.pin(params.distill.seed, params.distill.threads)
    splits = json.loads(Path(paths.splits).read_text())
    loaded = load_cases(Path(paths.cache), splits, ["train", "val"])
    train, val = loaded["train"], loaded["val"]
    guard.check_not_locked([c["case_id"] for c in train], splits, "distillation")
    guard.check_not_locked([c["case_id"] for c in val], splits, "model selection")
    teacher, config = load_model(Path(paths.teacher))
    window = WindowSpec(spatial_dims=int(config["spatial_dims"]), in_channels=int(config.get("in_channels", 1)),
                        patch_size=[int(v) for v in config["patch_size"]], sw_overlap=params.sw_overlap,
                        sw_batch_size=params.sw_batch_size)
    students = {}
    for spec in params.students:
        torch.manual_seed(params.distill.seed)
        net = build_unet(_network(spec, window.spatial_dims))
        fit = distill.distill(teacher, net, train, val, params.distill, window, progress)
        students[spec.name] = {"module": net, "fit": fit, "spec": spec}
    calib_cases = train[: params.quantize.calibration_cases]
    calib_ids = [c["case_id"] for c in calib_cases]
    guard.check_not_locked(calib_ids, splits, "INT8 calibration")
    modules = {"teacher": teacher, **{name: s["module"] for name, s in students.items()}}
    candidates = _candidates(modules, params, window, val, calib_cases)
    choice = select.choose(candidates, params.max_dice_drop)
    kept = choice["source"] if choice["source"] in students else params.students[0].name
    student = students[kept]
    state = {k: v.detach().cpu().clone() for k, v in student["module"].state_dict().items()}
    sha = determinism.weights_sha256(state)
    student_config = {**config, "network": _network(student["spec"], window.spatial_dims),
                      "best_val_dice": student["fit"]["best_val_dice"], "best_epoch": student["fit"]["best_epoch"],
                      "weights_sha256": sha, "distilled_from": config.get("weights_sha256", "unknown"),
                      "student_name": kept, **{k: str(v) if k == "torch" else v for k, v in pinned.items()}}
    save_checkpoint(Path(paths.student), state, student_config)
    teacher_row = next(c for c in candidates if c["name"] == select.TEACHER)
    chosen_row = next(c for c in candidates if c["name"] == choice["chosen"])
    postprocessing = {"teacher": teacher_row["postprocessing"], "compressed": chosen_row["postprocessing"]}
    record = {**choice, "student": kept, "student_weights_sha256": sha, "postprocessing": postprocessing,
              "distillation_case_ids": [c["case_id"] for c in train],
              "selection_case_ids": [c["case_id"] for c in val], "calibration_case_ids": calib_ids}
    write_json(Path(paths.choice), record)
    metrics = {"chosen": choice["chosen"], "method": choice["method"], "reason": choice["reason"],
               "verdicts": choice["verdicts"], "candidates": candidates,
               "students": {n: {"best_val_dice": round(s["fit"]["best_val_dice"], 6),
                                "best_epoch": s["fit"]["best_epoch"], "curve": s["fit"]["curve"]}
                            for n, s in students.items()},
               "teacher_val_dice": teacher_row["val_dice"], "chosen_val_dice": chosen_row["val_dice"],
               "dice_drop": round(teacher_row["val_dice"] - chosen_row["val_dice"], 6),
               "postprocessing": postprocessing,
               "speedup_vs_ort_teacher": round(teacher_row["latency_ms"] / chosen_row["latency_ms"], 3),
               "size_reduction": round(teacher_row["bytes"] / chosen_row["bytes"], 3),
               "train_cases": len(train), "val_cases": len(val), "calibration_cases": len(calib_ids),
               "threads": pinned["threads"], "seed": params.distill.seed}
    write_json(Path(paths.metrics), metrics)
    return metrics


def _candidates(modules: dict, params: CompressParams, window: WindowSpec, val: list[dict],
                calib_cases: list[dict]) -> list[dict]:
    threads = params.distill.threads
    rows = []
    batches = quantize.calibration_batches(calib_cases, list(window.patch_size))
    example = torch.from_numpy(batches[0]) if batches else torch.zeros(1, window.in_channels, *window.patch_size)
    with tempfile.TemporaryDirectory() as tmp:
        for name, module in modules.items():
            fp32 = Path(tmp) / f"{name}_fp32.onnx"
            export_onnx(module, fp32, window.spatial_dims, window.in_channels, list(window.patch_size), EXPORT_OPSET)
            row = {"name": f"{name}_fp32", "source": name, "method": _method(name, "fp32"),
                   "parameters": parameter_count(module), "shippable": True,
                   **measure(fp32, val, window, params.latency_repeats, threads, params.keep_largest_component)}
            with torch.no_grad():
                row["torch_latency_ms"] = round(1000 * median_seconds(lambda: module(example), params.latency_repeats), 3)
            rows.append(row)
            if not params.quantize.enabled:
                continue
            int8 = Path(tmp) / f"{name}_int8.onnx"
            row8 = {"name": f"{name}_int8", "source": name, "method": _method(name, "int8"),
                    "parameters": parameter_count(module), "shippable": False,
                    "not_shippable_because": INT8_REASON}
            try:
                quantize.quantize_int8(fp32, int8, batches, params.quantize.per_channel)
                row8.update(measure(int8, val, window, params.latency_repeats, threads,
                                    params.keep_largest_component))
            except Exception as exc:  # record a failed candidate, keep measuring the others
                row8["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            rows.append(row8)
    return rows


def _method(source: str, precision: str) -> str:
    if source == "teacher":
        return "none" if precision == "fp32" else "int8_static_qdq"
    return f"distilled_{precision}" if precision == "fp32" else "distilled_int8_static_qdq"


def _network(spec: StudentParams, spatial_dims: int) -> dict:
    return {"spatial_dims": spatial_dims, "channels": list(spec.channels), "strides": list(spec.strides),
            "num_res_units": spec.num_res_units, "dropout": 0.0}
