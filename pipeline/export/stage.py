"""The export core: the teacher and the chosen compressed model to ONNX, checked, with metadata and parity.

Writes ``<out>/teacher.onnx`` and, when the compress stage chose a model, ``<out>/compressed.onnx``
(each with a ``.sha256`` sidecar) atomically. When no candidate met the targets there is no
``compressed.onnx`` at all: a copy of the teacher is never released under that name. Each
file records the runtime the compress stage measured as fastest (``runtime`` metadata) and
is parity-checked on that runtime against its PyTorch module on every validation voxel;
when a check fails nothing is released and the stage fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.atomic import atomic_dir
from pipeline.core.records import write_record
from pipeline.compress.record import ShippedModel, load_compression
from pipeline.export import metadata as meta
from pipeline.export import parity
from pipeline.export.record import ExportMetrics
from pipeline.export.params import ExportParams
from pipeline.nets.checkpoint import load_checkpoint
from pipeline.nets.onnx import export_onnx
from pipeline.nets.unet import parameter_count
from pipeline.core.errors import UserError
from pipeline.data.cache import LoadedCase, load_cases, read_index
from pipeline.preprocess.records import load_fingerprint, load_splits
from pipeline.runtime.model import OnnxModel, released_file
from pipeline.runtime.sliding import predict_volume, torch_predict_volume
from pipeline.runtime.spec import BACKGROUND, PreprocessingSpec
from pipeline.core.timing import interleaved_medians


@dataclass(frozen=True)
class ExportPaths:
    """Inputs and outputs of the stage."""

    teacher: Path
    candidates: Path  # the compress stage's folder of candidate checkpoints
    choice: Path
    cache: Path
    splits: Path
    out_dir: Path
    metrics: Path
    fingerprint: Path | None = None  # the preprocess fingerprint: its acquisition ranges go into each file


def run(params: ExportParams, preprocess, paths: ExportPaths, git_commit: str,
        training_run_id: str) -> dict:
    """Export the shipped models, check parity on the validation cases, write files and metrics.

    Args:
        params: the validated ``export`` section.
        preprocess: the validated ``preprocess`` section (the preprocessing specification).
        paths: checkpoints, compression record, cache, splits and outputs.
        git_commit: the commit recorded in the metadata.
        training_run_id: the training stage's MLflow run ID recorded in the metadata.
    """
    import torch

    torch.set_num_threads(params.threads)
    record = load_compression(Path(paths.choice))
    shipped = {"teacher": (Path(paths.teacher), record.teacher)}
    if record.compressed is not None:
        shipped["compressed"] = (Path(paths.candidates) / record.compressed.checkpoint, record.compressed)
    ranges = (meta.acquisition_ranges(load_fingerprint(Path(paths.fingerprint)).model_dump(), str(paths.fingerprint))
              if paths.fingerprint else None)
    splits = load_splits(Path(paths.splits))
    val = load_cases(Path(paths.cache), splits, ["val"])["val"]
    labels = [BACKGROUND, *read_index(Path(paths.cache)).classes]  # the label map the data declared
    results, loaded = {}, {}
    with atomic_dir(Path(paths.out_dir), shared=True) as tmp:  # release/models: the shared file modes
        for role, (checkpoint, model) in shipped.items():
            module, config = load_checkpoint(checkpoint)
            check_outputs(config, labels, checkpoint)
            spec = build_spec(preprocess, config, params, model.keep_largest_component, model.foreground_threshold,
                              labels)
            data = meta.build_metadata(role, params.model_version, git_commit, training_run_id, spec,
                                       params.intended_use, str(config.get("weights_sha256", "unknown")),
                                       _compression(role, model), runtime=model.runtime,
                                       acquisition=ranges)
            written = export_onnx(module, released_file(tmp, role), spec.spatial_dims, spec.in_channels,
                                  spec.patch_size, params.opset, params.exporter, data)
            onnx_model = OnnxModel.load(released_file(tmp, role), threads=params.threads)
            rows = parity.compare(module, onnx_model, val, spec, params.parity_atol)
            parity.check(role, rows, params.parity_atol, params.max_argmax_mismatches)
            loaded[role] = (module, onnx_model, spec)
            results[role] = {"onnx": {k: v for k, v in written.items() if k != "path"},
                             "file": released_file(tmp, role).name, "parameters": parameter_count(module),
                             "source_checkpoint": str(checkpoint), "method": model.method,
                             "candidate": model.candidate, "precision": model.precision,
                             "runtime": onnx_model.runtime, "runtime_version": onnx_model.engine.version,
                             "parity_cases": rows, "parity": parity.summarise(rows),
                             "keep_largest_component": spec.keep_largest_component,
                             "foreground_threshold": spec.foreground_threshold}
        latency = _volume_latency(loaded, val, params.latency_repeats)
    metrics = _metrics(params, results, latency, record)
    write_record(Path(paths.metrics), metrics, ExportMetrics, "export metrics")
    return metrics


def check_outputs(config: dict, labels: list[str], checkpoint: Path) -> None:
    """``UserError`` when a checkpoint's output channels are not the cache's label map (trained on
    another class map): its file would name its outputs wrongly."""
    outputs = int(config.get("out_channels", 2))
    if outputs != len(labels):
        raise UserError(f"{checkpoint} has {outputs} output channels, the cache's label map {labels} has "
                        f"{len(labels)}: it was trained on another preprocess.source.classes; rerun train")


def build_spec(preprocess, config: dict, export: ExportParams,
               keep_largest_component: bool = False, foreground_threshold: float = 0.5,
               labels: list[str] | None = None) -> PreprocessingSpec:
    """The spec from the ``preprocess`` params, a checkpoint's training config and ``export``.

    Args:
        preprocess: the validated ``preprocess`` section.
        config: the checkpoint's ``config`` (patch size, dims, orientation).
        export: the ``export`` section (sliding-window overlap and batch).
        keep_largest_component: the post-processing chosen for this model on validation cases.
        foreground_threshold: the operating point chosen for this model on validation cases.
        labels: class names by output channel, background first (the cache index's classes);
            None: background and ``preprocess.source.classes``.
    """
    if labels is None:
        labels = [BACKGROUND, *preprocess.source.class_names]
    return PreprocessingSpec(
        spatial_dims=int(config["spatial_dims"]), in_channels=int(config.get("in_channels", 1)),
        target_spacing_mm=[float(v) for v in preprocess.target_spacing_mm],
        orientation=str(config.get("orientation", "RAS")), normalisation=preprocess.normalisation,
        crop_foreground=preprocess.crop_foreground, crop_threshold=float(preprocess.crop_threshold),
        crop_margin=preprocess.crop_margin, patch_size=[int(v) for v in config["patch_size"]],
        sw_overlap=export.sw_overlap, sw_batch_size=export.sw_batch_size, labels=list(labels),
        keep_largest_component=keep_largest_component, foreground_threshold=foreground_threshold)


def _compression(role: str, model: ShippedModel) -> dict[str, str]:
    if role != "compressed":
        return {}
    return {"compression": json.dumps({"method": model.method, "candidate": model.candidate,
                                       "precision": model.precision}, sort_keys=True)}


def _volume_latency(loaded: dict, val: list[LoadedCase], repeats: int) -> dict:
    """Per-volume medians (ms) on the largest validation case: each file on its runtime and torch eager."""
    volume = max(val, key=lambda case: case.image.size).image
    calls = {}
    for role, (module, onnx_model, spec) in loaded.items():
        calls[f"{role}_runtime"] = lambda m=onnx_model, s=spec: predict_volume(m, volume, s)
        calls[f"{role}_torch_eager"] = lambda m=module, s=spec: torch_predict_volume(m, volume, s)
    times = interleaved_medians(calls, repeats, warmup=1)
    return {"volume_shape": list(volume.shape[1:]), "repeats": repeats,
            **{key: round(1000 * value, 3) for key, value in times.items()}}


def _metrics(params: ExportParams, results: dict, latency: dict, record) -> dict:
    teacher, compressed = results["teacher"], results.get("compressed")
    out = {"opset": params.opset, "exporter": params.exporter, "parity_atol": params.parity_atol,
           "compressed_released": compressed is not None, "compression_reason": record.reason,
           "runtime": teacher["runtime"], "runtime_version": teacher["runtime_version"],
           "teacher": teacher, "compressed": compressed, "volume_latency_ms": latency,
           "val_dice_teacher": round(teacher["parity"]["mean_dice"], 6)}
    ratios = {"teacher_runtime_vs_torch_eager": _ratio(latency["teacher_torch_eager"], latency["teacher_runtime"])}
    if compressed is not None:
        out["val_dice_compressed"] = round(compressed["parity"]["mean_dice"], 6)
        out["dice_drop"] = round(teacher["parity"]["mean_dice"] - compressed["parity"]["mean_dice"], 6)
        ratios.update(
            compressed_vs_teacher_speedup=_ratio(latency["teacher_runtime"], latency["compressed_runtime"]),
            compressed_runtime_vs_torch_eager=_ratio(latency["compressed_torch_eager"],
                                                     latency["compressed_runtime"]),
            compressed_size_reduction=_ratio(teacher["onnx"]["bytes"], compressed["onnx"]["bytes"]))
    out["ratios"] = ratios
    return out


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else float("nan")

