"""The export core: teacher and compressed model to ONNX, checked, with metadata and parity.

Writes ``<out>/teacher.onnx`` and ``<out>/compressed.onnx`` (each with a ``.sha256`` sidecar)
atomically: when either parity check fails nothing is released and the stage fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.atomic import atomic_dir, write_json
from pipeline.export import metadata as meta
from pipeline.export import parity
from pipeline.export.inference import OnnxModel
from pipeline.export.latency import median_seconds, parameter_count
from pipeline.export.onnx_io import export_onnx
from pipeline.export.params import ExportParams
from pipeline.export.spec import PreprocessingSpec, build_spec
from pipeline.preprocess.cache import load_cases
from pipeline.export.checkpoint import load_model

ROLES = ("teacher", "compressed")


@dataclass(frozen=True)
class ExportPaths:
    """Inputs and outputs of the stage."""

    teacher: Path
    student: Path
    choice: Path
    cache: Path
    splits: Path
    out_dir: Path
    metrics: Path


def run(params: ExportParams, preprocess, paths: ExportPaths, git_commit: str,
        training_run_id: str) -> dict:
    """Export both models, check parity on the validation cases, write files and metrics.

    Args:
        params: the validated ``export`` section.
        preprocess: the validated ``preprocess`` section (the preprocessing specification).
        paths: checkpoints, compression choice, cache, splits and outputs.
        git_commit: the commit recorded in the metadata.
        training_run_id: the training stage's MLflow run ID recorded in the metadata.
    """
    torch.set_num_threads(params.threads)
    choice = json.loads(Path(paths.choice).read_text())
    sources = {"teacher": Path(paths.teacher),
               "compressed": Path(paths.teacher if choice["source"] == "teacher" else paths.student)}
    splits = json.loads(Path(paths.splits).read_text())
    val = load_cases(Path(paths.cache), splits, ["val"])["val"]
    results = {}
    with atomic_dir(Path(paths.out_dir)) as tmp:
        for role in ROLES:
            module, config = load_model(sources[role])
            chosen = choice.get("postprocessing", {}).get(role, {})
            spec = build_spec(preprocess, config, params, bool(chosen.get("keep_largest_component", False)))
            extra = {"compression": choice["method"]} if role == "compressed" else {}
            data = meta.build_metadata(role, params.model_version, git_commit, training_run_id, spec,
                                       params.intended_use, str(config.get("weights_sha256", "unknown")),
                                       extra)
            written = export_onnx(module, tmp / f"{role}.onnx", spec.spatial_dims, spec.in_channels,
                                  spec.patch_size, params.opset, params.exporter, data)
            onnx_model = OnnxModel.load(tmp / f"{role}.onnx", threads=params.threads)
            rows = parity.compare(module, onnx_model, val, spec)
            parity.check(role, rows, params.parity_atol, params.max_argmax_mismatches)
            results[role] = {"onnx": {k: v for k, v in written.items() if k != "path"},
                             "file": f"{role}.onnx", "parameters": parameter_count(module),
                             "source_checkpoint": str(sources[role]), "parity_cases": rows,
                             "parity": parity.summarise(rows),
                             "keep_largest_component": spec.keep_largest_component,
                             "latency_ms_ort": _ort_latency(onnx_model, spec, params.latency_repeats)}
            if role == "teacher":
                results["torch_teacher_latency_ms"] = _torch_latency(module, spec, params.latency_repeats)
    metrics = _metrics(params, results, choice)
    write_json(Path(paths.metrics), metrics)
    return metrics


def _metrics(params: ExportParams, results: dict, choice: dict) -> dict:
    teacher, compressed = results["teacher"], results["compressed"]
    return {
        "opset": params.opset, "exporter": params.exporter, "parity_atol": params.parity_atol,
        "compression_method": choice["method"], "teacher": teacher, "compressed": compressed,
        "torch_teacher_latency_ms": results["torch_teacher_latency_ms"],
        "val_dice_teacher": round(teacher["parity"]["mean_dice"], 6),
        "val_dice_compressed": round(compressed["parity"]["mean_dice"], 6),
        "dice_drop": round(teacher["parity"]["mean_dice"] - compressed["parity"]["mean_dice"], 6),
        "ratios": {
            "ort_teacher_vs_torch_speedup": _ratio(results["torch_teacher_latency_ms"], teacher["latency_ms_ort"]),
            "compressed_vs_ort_teacher_speedup": _ratio(teacher["latency_ms_ort"], compressed["latency_ms_ort"]),
            "compressed_size_reduction": _ratio(teacher["onnx"]["bytes"], compressed["onnx"]["bytes"]),
        },
    }


def _example(spec: PreprocessingSpec) -> np.ndarray:
    return np.random.default_rng(0).random((1, spec.in_channels, *spec.patch_size), dtype=np.float32)


def _ort_latency(onnx_model: OnnxModel, spec: PreprocessingSpec, repeats: int) -> float:
    batch = _example(spec)
    return round(1000 * median_seconds(lambda: onnx_model(batch), repeats), 3)


def _torch_latency(module, spec: PreprocessingSpec, repeats: int) -> float:
    batch = torch.from_numpy(_example(spec))
    with torch.no_grad():
        return round(1000 * median_seconds(lambda: module(batch), repeats), 3)


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else float("nan")
