"""Latency of torch eager vs ONNX Runtime FP32 teacher vs ONNX Runtime compressed model.

Median over repeated runs in one process (after warm-up; the three contenders are timed in
turn within each round so load drift on a shared machine hits all alike), at the default patch size (one
window, batch 1) and on a full default volume with sliding windows (a validation case of the
preprocessed cache), printed with the ratios the compression targets name:
ORT FP32 teacher >= 2.5x faster than torch eager; compressed >= 3x faster than the ORT teacher
and >= 4x smaller. Needs ``make repro`` outputs (or set BENCH_MODELS, BENCH_TEACHER_PT,
BENCH_CACHE, BENCH_SPLITS to other locations).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from pipeline.export.checkpoint import load_model
from pipeline.export.inference import OnnxModel, predict_volume, torch_predict_volume
from pipeline.export.latency import interleaved_medians
from pipeline.preprocess.cache import load_cases

THREADS = 2
PATCH_REPEATS = 20
VOLUME_REPEATS = 5


def main() -> None:
    models = Path(os.environ.get("BENCH_MODELS", "release/models"))
    teacher_pt = Path(os.environ.get("BENCH_TEACHER_PT", "models/teacher.pt"))
    cache = Path(os.environ.get("BENCH_CACHE", "data/preprocessed"))
    splits = Path(os.environ.get("BENCH_SPLITS", "data/splits.json"))
    needed = [models / "teacher.onnx", models / "compressed.onnx", teacher_pt, splits]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (run `make repro` first)")
        return
    torch.set_num_threads(THREADS)
    module, _ = load_model(teacher_pt)
    teacher = OnnxModel.load(models / "teacher.onnx", threads=THREADS)
    compressed = OnnxModel.load(models / "compressed.onnx", threads=THREADS)
    spec = teacher.spec
    patch = np.random.default_rng(0).random((1, spec.in_channels, *spec.patch_size), dtype=np.float32)
    tensor = torch.from_numpy(patch)
    volume = _volume(cache, splits)
    with torch.no_grad():
        rows = {
            "patch": interleaved_medians({
                "torch eager teacher": lambda: module(tensor),
                "ORT FP32 teacher": lambda: teacher(patch),
                "ORT compressed": lambda: compressed(patch)}, PATCH_REPEATS, 2),
            "volume": interleaved_medians({
                "torch eager teacher": lambda: torch_predict_volume(module, volume, spec),
                "ORT FP32 teacher": lambda: predict_volume(teacher, volume, spec),
                "ORT compressed": lambda: predict_volume(compressed, volume, spec)}, VOLUME_REPEATS, 1)}
    sizes = {name: (models / f"{name}.onnx").stat().st_size for name in ("teacher", "compressed")}
    print(f"threads {THREADS}; patch {spec.patch_size} (median of {PATCH_REPEATS} interleaved rounds); volume "
          f"{list(volume.shape[1:])} sliding window overlap {spec.sw_overlap} (median of {VOLUME_REPEATS} rounds)")
    for scope, times in rows.items():
        eager, fp32, small = (times[k] for k in ("torch eager teacher", "ORT FP32 teacher", "ORT compressed"))
        print(f"  {scope:6s}  torch eager {1000 * eager:9.1f} ms | ORT FP32 teacher {1000 * fp32:9.1f} ms | "
              f"ORT compressed {1000 * small:9.1f} ms")
        print(f"          ORT teacher vs torch eager {eager / fp32:5.2f}x (target >= 2.5) | compressed vs ORT "
              f"teacher {fp32 / small:5.2f}x (target >= 3)")
    print(f"  size    teacher {sizes['teacher']} B, compressed {sizes['compressed']} B: "
          f"{sizes['teacher'] / sizes['compressed']:.2f}x smaller (target >= 4)")
    print(f"  method  {compressed.metadata.get('compression', 'unknown')}")


def _volume(cache: Path, splits: Path) -> np.ndarray:
    record = json.loads(splits.read_text())
    cases = load_cases(cache, record, ["val"])["val"]
    return max(cases, key=lambda case: case["image"].size)["image"]


if __name__ == "__main__":
    main()
