"""Inference speed of the released models: torch eager vs every runtime, teacher vs compressed.

Per window (one batch of ``sw_batch_size`` windows of the patch size) and per volume (the
sliding-window inference of the largest validation case through the product's own path),
medians of rounds in which every contender runs in turn (load drift on a shared machine hits
all alike): torch eager on each model's PyTorch weights, and each released ONNX file on every
installed runtime. Printed with the ratios the compression targets name: compressed vs
teacher on the same runtime (>= 3x per volume), file sizes (>= 4x), and each runtime vs torch
eager on the same model (the product's path must not be slower); ONNX Runtime also as one
two-threaded session, without the product's window-parallel split. Needs ``make repro`` outputs
(or BENCH_MODELS, BENCH_TEACHER_PT, BENCH_CANDIDATES, BENCH_CACHE, BENCH_SPLITS).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from pipeline.nets.checkpoint import load_checkpoint
from pipeline.data.cache import load_cases
from pipeline.preprocess.records import load_splits
from pipeline.runtime import engines
from pipeline.runtime.model import OnnxModel
from pipeline.runtime.sliding import predict_volume, torch_predict_volume
from pipeline.core.timing import interleaved_medians

THREADS = 2
WINDOW_REPEATS = 20
VOLUME_REPEATS = 7
ONE_SESSION = "onnxruntime-cpu-one-session"


def main() -> None:
    from pipeline.params import repo_paths

    where = repo_paths(Path("."))  # params.yaml's paths; each may be overridden from the environment
    models = Path(os.environ.get("BENCH_MODELS", where.models))
    teacher_pt = Path(os.environ.get("BENCH_TEACHER_PT", where.teacher))
    candidates = Path(os.environ.get("BENCH_CANDIDATES", where.candidates))
    cache = Path(os.environ.get("BENCH_CACHE", where.cache))
    splits = Path(os.environ.get("BENCH_SPLITS", where.splits))
    missing = [str(p) for p in (models / "teacher.onnx", teacher_pt, splits) if not p.exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (run `make repro` first)")
        return
    torch.set_num_threads(THREADS)
    roles = ["teacher"] + (["compressed"] if (models / "compressed.onnx").exists() else [])
    files = {role: models / f"{role}.onnx" for role in roles}
    recorded = {role: OnnxModel.load(path, threads=THREADS) for role, path in files.items()}
    modules = {"teacher": load_checkpoint(teacher_pt)[0]}
    if "compressed" in roles:
        compression = json.loads(recorded["compressed"].metadata["compression"])
        modules["compressed"] = load_checkpoint(candidates / f"{compression['candidate']}.pt")[0]
    spec = recorded["teacher"].spec
    runtimes = engines.available()
    opened = {(role, rt): OnnxModel.load(files[role], threads=THREADS, runtime=rt)
              for role in roles for rt in runtimes}
    for role in roles:  # ONNX Runtime without the window-parallel split (pipeline.runtime.engines)
        session = engines.ort_session(files[role].read_bytes(), THREADS)
        opened[role, ONE_SESSION] = lambda batch, s=session: s.run([engines.OUTPUT], {engines.INPUT: batch})[0]
    batch = np.random.default_rng(0).random((spec.sw_batch_size, spec.in_channels, *spec.patch_size),
                                            dtype=np.float32)
    tensor = torch.from_numpy(batch)
    volume = _volume(cache, splits)
    with torch.no_grad():
        window = {**{f"{role} torch-eager": (lambda m=m: m(tensor)) for role, m in modules.items()},
                  **{f"{role} {rt}": (lambda m=m: m(batch)) for (role, rt), m in opened.items()}}
        whole = {**{f"{role} torch-eager": (lambda m=m: torch_predict_volume(m, volume, spec))
                    for role, m in modules.items()},
                 **{f"{role} {rt}": (lambda m=m: predict_volume(m, volume, spec)) for (role, rt), m in opened.items()}}
        times = {"window": interleaved_medians(window, WINDOW_REPEATS, 2),
                 "volume": interleaved_medians(whole, VOLUME_REPEATS, 1)}
    print(f"threads {THREADS}; window batch {list(batch.shape)} (median of {WINDOW_REPEATS} interleaved rounds); "
          f"volume {list(volume.shape[1:])}, sliding windows overlap {spec.sw_overlap} (median of {VOLUME_REPEATS})")
    print(f"recorded runtime: {', '.join(f'{r} {m.runtime}' for r, m in recorded.items())}")
    for scope, measured in times.items():
        per = spec.sw_batch_size if scope == "window" else 1
        print(f"  {scope}:")
        for name, seconds in measured.items():
            print(f"    {name:32s} {1000 * seconds / per:9.1f} ms" + (" per window" if per > 1 else ""))
        for rt in ["torch-eager", *runtimes, ONE_SESSION]:
            teacher, small = measured.get(f"teacher {rt}"), measured.get(f"compressed {rt}")
            if teacher and small:
                print(f"    compressed vs teacher on {rt:18s} {teacher / small:5.2f}x (target >= 3)")
        for role in roles:
            eager = measured[f"{role} torch-eager"]
            print(f"    {role:10s} runtime vs torch eager: " + ", ".join(
                f"{rt} {eager / measured[f'{role} {rt}']:.2f}x" for rt in [*runtimes, ONE_SESSION]))
    sizes = {role: path.stat().st_size for role, path in files.items()}
    if "compressed" in sizes:
        print(f"  size    teacher {sizes['teacher']} B, compressed {sizes['compressed']} B: "
              f"{sizes['teacher'] / sizes['compressed']:.2f}x smaller (target >= 4)")
        print(f"  method  {recorded['compressed'].metadata.get('compression')}")
    else:
        print(f"  no compressed model was released (see {where.compress_metrics})")


def _volume(cache: Path, splits: Path) -> np.ndarray:
    cases = load_cases(cache, load_splits(splits), ["val"])["val"]
    return max(cases, key=lambda case: case.image.size).image


if __name__ == "__main__":
    main()
