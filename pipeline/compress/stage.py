"""The compress core: build candidates with the teacher's recipe, measure them on every runtime, choose.

Candidates (``compress.candidates``): distilled students, the same students trained from
scratch (what distillation bought) and the teacher pruned with Torch-Pruning and fine-tuned,
each trained with the recipe stored in the teacher's checkpoint; with ``quantize.enabled``
an INT8 QDQ copy of the teacher and of every candidate. Every model is exported to ONNX and
measured on every installed runtime of ``compress.runtimes`` the same way (file size,
per-volume sliding-window latency beside torch eager, validation Dice per case with its own
post-processing); ``select.choose`` picks the fastest (candidate, runtime) that meets every
target against the teacher on that runtime, or none.

Fitting uses training cases only, selection validation cases only, calibration training
cases only; the locked test split is never loaded (and checked by case ID before use).

Outputs: ``candidates_dir/<name>.pt`` for every trained candidate (the audit trail; export
reads the chosen one), the choice record (``CompressionRecord``) and the metrics.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.core.atomic import atomic_dir, write_json
from pipeline.compress import fit, guard, measure, prune, quantize, select
from pipeline.compress.params import CandidateParams, CompressParams
from pipeline.compress.record import CompressionRecord, CompressMetrics, ShippedModel
from pipeline.core.errors import UserError
from pipeline.core.records import write_record
from pipeline.nets.checkpoint import load_checkpoint, norm_features, save_checkpoint
from pipeline.nets.onnx import export_onnx
from pipeline.nets.unet import build_unet, parameter_count
from pipeline.data.cache import LoadedCase, load_cases
from pipeline.preprocess.records import load_splits
from pipeline.recipe import determinism, loop
from pipeline.recipe.params import RecipeParams
from pipeline.runtime import engines
from pipeline.runtime.spec import WindowSpec

INT8_NOT_SHIPPABLE = ("the export parity gate has no fake-quantized PyTorch reference for ONNX Runtime's "
                      "QDQ files yet")


@dataclass(frozen=True)
class CompressPaths:
    """Inputs and outputs of the stage."""

    teacher: Path
    cache: Path
    splits: Path
    candidates: Path  # folder: one checkpoint per trained candidate
    choice: Path  # the CompressionRecord the export stage reads
    metrics: Path


def run(params: CompressParams, paths: CompressPaths, progress=None, *, opset: int, exporter: str) -> dict:
    """Build and measure the candidates, write their checkpoints, the choice and the metrics.

    Args:
        params: the validated ``compress`` section.
        paths: teacher checkpoint, cache, splits and outputs.
        progress: optional ``bar(description)`` factory for progress bars.
        opset: the ONNX opset the candidates are measured in (``export.opset``: what ships).
        exporter: the ONNX exporter (``export.exporter``).
    """
    pinned = determinism.pin(params.seed, params.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    splits = load_splits(Path(paths.splits))
    loaded = load_cases(Path(paths.cache), splits, ["train", "val"])
    train, val = loaded["train"], loaded["val"]
    guard.check_not_locked([c.case_id for c in train], splits, "candidate training")
    guard.check_not_locked([c.case_id for c in val], splits, "model selection")
    teacher, config = load_checkpoint(Path(paths.teacher))
    recipe = _recipe(config, paths.teacher)
    window = WindowSpec(spatial_dims=int(config["spatial_dims"]), in_channels=int(config.get("in_channels", 1)),
                        patch_size=[int(v) for v in config["patch_size"]], sw_overlap=params.sw_overlap,
                        sw_batch_size=params.sw_batch_size)
    soft = None
    if any(c.method != "scratch" for c in params.candidates) and params.distill.kd_weight > 0:
        soft = fit.teacher_logits(teacher, train, recipe, device)
    calibration = train[: params.quantize.calibration_cases]
    guard.check_not_locked([c.case_id for c in calibration], splits, "INT8 calibration")
    modules, fits = {select.TEACHER: teacher}, {}
    with atomic_dir(Path(paths.candidates)) as folder:
        trained = _train_all(params, teacher, train, val, recipe, window, soft, device, progress,
                             int(config.get("out_channels", 2)))
        for spec in params.candidates:
            net, fits[spec.name] = trained[spec.name]
            modules[spec.name] = net
            save_checkpoint(folder / f"{spec.name}.pt", loop.cpu_state(net),
                            _candidate_config(config, spec, fits[spec.name], net,
                                              {**pinned, "threads": fits[spec.name]["threads"]}))
        determinism.pin(params.seed, params.threads)
        rows = _measure(modules, params, window, val, calibration, (opset, exporter))
    clusters = {c.case_id: str(c.record.patient_id or c.case_id) for c in val}
    choice = select.choose(rows, params.selection, clusters, params.bootstrap_samples, params.seed)
    record = _record(choice, rows, params, train, val, calibration)
    write_json(Path(paths.choice), record.model_dump(mode="json"))
    metrics = _metrics(choice, rows, fits, record, params, pinned, len(train), len(val))
    write_record(Path(paths.metrics), metrics, CompressMetrics, "compression metrics")
    return metrics


def _recipe(config: dict, path: Path) -> RecipeParams:
    if "recipe" not in config:
        raise UserError(f"{path} records no training recipe (config['recipe']): it was written by an older "
                        "train stage; run `dvc repro train` so candidates can be trained the teacher's way")
    return RecipeParams.model_validate(config["recipe"])


def _train_all(params: CompressParams, teacher, train, val, recipe, window, soft, device: str, progress,
               outputs: int = 2) -> dict:
    """Every candidate trained: name -> (network, fit record).

    On the CPU with ``compress.workers`` > 1 the candidates train in that many worker processes
    at ``threads // workers`` threads each: on the 2-core machine two 1-thread trainings side by
    side do more steps per second than one after another at 2 threads (torch's second thread
    adds about half a core's worth on these small 3D networks). Each candidate is seeded and
    pinned the same way in any process, so its weights depend only on the seed and its thread
    count (recorded in its checkpoint), not on which worker ran it or when.
    """
    workers = min(params.workers, len(params.candidates)) if device == "cpu" else 1
    if workers <= 1:
        out = {}
        for spec in params.candidates:
            bar = progress(f"compress {spec.name}") if progress else None
            out[spec.name] = _train(spec, teacher, train, val, recipe, window, params, soft, device, bar, outputs)
        return out
    threads = max(1, params.threads // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=determinism.pin,
                             initargs=(params.seed, threads)) as pool:
        futures = {spec.name: pool.submit(_train, spec, teacher, train, val, recipe, window, params, soft, device,
                                          None, outputs) for spec in params.candidates}
        out = {}
        for spec in params.candidates:
            out[spec.name] = futures[spec.name].result()
            print(f"compress: {spec.name} trained in {out[spec.name][1]['seconds']} s "
                  f"({threads} thread(s), {workers} candidates at a time)", flush=True)
        return out


def _train(spec: CandidateParams, teacher, train, val, recipe, window, params, soft, device, bar, outputs: int = 2):
    """One candidate; ``outputs``: the teacher's output channels (background + its classes), which
    every student predicts too (the same label map)."""
    torch.manual_seed(params.seed)
    if spec.method == "prune":
        example = torch.zeros(1, window.in_channels, *window.patch_size)
        net = prune.prune_channels(teacher, spec.ratio, example)
    else:
        net = build_unet({"spatial_dims": window.spatial_dims, **spec.network.model_dump(), "dropout": 0.0},
                         outputs)
    kd_weight = 0.0 if spec.method == "scratch" or soft is None else params.distill.kd_weight
    loss = loop.distillation_loss(kd_weight, params.distill.temperature, recipe.batch_dice)
    result = fit.fit(net, train, val, recipe, window.spatial_dims, spec.epochs, loss, params.seed, device,
                     params.val_every, soft if kd_weight > 0 else None, bar, params.val_after, params.amp)
    return net, {**result, "method": spec.method, "kd_weight": kd_weight, "epochs": spec.epochs,
                 "threads": torch.get_num_threads()}


def _measure(modules: dict, params: CompressParams, window: WindowSpec, val: list[LoadedCase],
             calibration: list[LoadedCase], onnx_format: tuple[int, str]) -> list[dict]:
    runtimes = [r for r in params.runtimes if r in engines.available()]
    batches = quantize.calibration_batches(calibration, list(window.patch_size))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        files, sources = {}, {}
        for name, module in modules.items():
            files[name] = Path(tmp) / f"{name}.onnx"
            export_onnx(module, files[name], window.spatial_dims, window.in_channels, list(window.patch_size),
                        *onnx_format)
            sources[name] = (name, "fp32")
            if params.quantize.enabled:
                int8 = Path(tmp) / f"{name}_int8.onnx"
                try:
                    quantize.quantize_int8(files[name], int8, batches, params.quantize.per_channel)
                    files[f"{name}_int8"], sources[f"{name}_int8"] = int8, (name, "int8")
                except Exception as exc:  # a failed candidate is a result; the others go on
                    rows.append({"name": f"{name}_int8", "source": name, "precision": "int8", "runtime": "-",
                                 "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        opened = measure.open_all(files, runtimes, window, params.threads)
        working = {}
        for name in files:
            source, precision = sources[name]
            runs = {rt: e for (n, rt), e in opened.items() if n == name and not isinstance(e, str)}
            module = modules[source] if precision == "fp32" else None
            results = measure.validation(runs, module, val, window, params.keep_largest_component,
                                         params.foreground_thresholds, params.selection.parity_atol)
            for runtime in runtimes:
                engine = opened[name, runtime]
                row = {"name": name, "source": source, "precision": precision, "runtime": runtime,
                       "bytes": files[name].stat().st_size, "parameters": parameter_count(modules[source])}
                if precision == "int8":
                    row.update(shippable=False, not_shippable_because=INT8_NOT_SHIPPABLE)
                if isinstance(engine, str):
                    row["error"] = engine
                else:
                    row.update(runtime_version=engine.version, **results[runtime])
                    working[select.key(row)] = engine
                rows.append(row)
        volumes = measure.timed_volumes(val, params.latency_cases)
        torch_refs = {f"{name}@torch-eager": module for name, module in modules.items()}
        latency = measure.volume_latency_ms(working, torch_refs, volumes, window, params.latency_repeats)
    for row in rows:
        if select.key(row) in latency:
            row["volume_ms"] = latency[select.key(row)]
            if row["precision"] == "fp32":
                row["torch_eager_volume_ms"] = latency[f"{row['name']}@torch-eager"]
    return rows


def _record(choice: dict, rows: list[dict], params: CompressParams, train, val, calibration) -> CompressionRecord:
    by_key = {select.key(r): r for r in rows}
    teacher_row = by_key[f"{select.TEACHER}@{choice['teacher_runtime']}"]
    compressed = None
    if choice["chosen"]:
        row = by_key[choice["chosen"]]
        spec = next(c for c in params.candidates if c.name == row["source"])
        judged = choice["judgements"][choice["chosen"]]
        compressed = ShippedModel(candidate=row["source"], method=spec.method, precision=row["precision"],
                                  checkpoint=f"{row['source']}.pt", runtime=row["runtime"],
                                  runtime_version=row["runtime_version"],
                                  keep_largest_component=row["postprocessing"]["keep_largest_component"],
                                  foreground_threshold=row["postprocessing"]["foreground_threshold"],
                                  val_dice=row["val_dice"], volume_ms=row["volume_ms"], bytes=row["bytes"],
                                  dice_drop=judged["dice_drop"], speedup=judged["speedup"],
                                  size_reduction=judged["size_reduction"])
    teacher = ShippedModel(candidate=select.TEACHER, method="none", precision="fp32", checkpoint=None,
                           runtime=teacher_row["runtime"], runtime_version=teacher_row["runtime_version"],
                           keep_largest_component=teacher_row["postprocessing"]["keep_largest_component"],
                           foreground_threshold=teacher_row["postprocessing"]["foreground_threshold"],
                           val_dice=teacher_row["val_dice"], volume_ms=teacher_row["volume_ms"],
                           bytes=teacher_row["bytes"])
    return CompressionRecord(teacher=teacher, compressed=compressed, reason=choice["reason"],
                             targets=params.selection.model_dump(),
                             training_case_ids=[c.case_id for c in train],
                             selection_case_ids=[c.case_id for c in val],
                             calibration_case_ids=[c.case_id for c in calibration])


def _metrics(choice: dict, rows: list[dict], fits: dict, record: CompressionRecord, params: CompressParams,
             pinned: dict, n_train: int, n_val: int) -> dict:
    for row in rows:
        judged = choice["judgements"].get(select.key(row)) or {"verdict": f"failed: {row.get('error')}"}
        row["verdict"] = judged["verdict"]
        if "dice_drop" in judged:
            row.update(dice_drop=judged["dice_drop"], speedup=judged["speedup"],
                       size_reduction=judged["size_reduction"])
    shipped = record.compressed
    return {"compressed": shipped is not None, "chosen": choice["chosen"], "reason": choice["reason"],
            "runtime": choice["runtime"], "targets": params.selection.model_dump(),
            "shipped": shipped.model_dump(mode="json") if shipped else None,
            "teacher": record.teacher.model_dump(mode="json"), "candidates": rows,
            "training": {name: {k: v for k, v in f.items() if k != "per_case"} for name, f in fits.items()},
            "runtimes_available": engines.available(), "train_cases": n_train, "val_cases": n_val,
            "threads": pinned["threads"], "workers": params.workers, "seed": params.seed}


def _candidate_config(teacher_config: dict, spec: CandidateParams, result: dict, net, pinned: dict) -> dict:
    state = loop.cpu_state(net)
    config = {k: v for k, v in teacher_config.items() if k not in ("best_val_dice", "best_epoch", "weights_sha256")}
    if spec.method != "prune":
        config["network"] = {"spatial_dims": teacher_config["spatial_dims"], **spec.network.model_dump(),
                             "dropout": 0.0}
    if spec.method == "prune":
        config["norm_features"] = norm_features(net)
    config.update(candidate=spec.name, method=spec.method, pruned=spec.method == "prune",
                  best_val_dice=result["best_val_dice"], best_epoch=result["best_epoch"],
                  weights_sha256=determinism.weights_sha256(state),
                  derived_from=teacher_config.get("weights_sha256", "unknown"),
                  **{k: str(v) if k == "torch" else v for k, v in pinned.items()})
    return config

