"""Distillation step of the shipped student: float32 (channels-last, as float32 trains on the CPU)
against the precision ``compress.amp`` selects (bfloat16 on a CPU that computes it natively),
same initial weights, same pre-drawn batches, same threads.

The batches are patches of the default cohort's train cases with the teacher's soft targets
(``models/teacher.pt``), drawn once; both steps consume them in alternating rounds (float32,
bfloat16, float32, ...) so machine noise hits both alike, and the median milliseconds per step of
each and their ratio are reported. This is the measurement behind ``compress.amp`` in
``params.yaml``. Needs the preprocess and train stages' outputs (``make repro`` first).
Run: ``make bench BENCH=student_step``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from pipeline.compress import fit
from pipeline.core.atomic import write_json
from pipeline.core.errors import UserError
from pipeline.nets.checkpoint import load_checkpoint
from pipeline.nets.unet import build_unet
from pipeline.params import load_params
from pipeline.recipe import determinism, loop, patches
from pipeline.recipe.params import RecipeParams

ROUNDS = 5
CASES = 8     # train cases whose patches are drawn (4 batches an epoch at 2 cases a batch)
EPOCHS = 3    # epochs of batches drawn: 12 steps a round
OUT = Path("bench/results/student_step.json")


def main() -> dict:
    config = load_params(Path("params.yaml"))
    params = config.compress
    teacher_file, cache, splits = Path(config.paths.teacher), Path(config.paths.cache), Path(config.paths.splits)
    if not (teacher_file.is_file() and cache.is_dir() and splits.is_file()):
        raise UserError(f"{teacher_file}, {cache} and {splits} are needed: run make repro first")
    determinism.pin(params.seed, params.threads)
    train, _, _ = patches.load_training_cases(cache, splits)
    train = train[:CASES]
    teacher, config_of_teacher = load_checkpoint(teacher_file)
    recipe = RecipeParams.model_validate(config_of_teacher["recipe"])
    soft = fit.teacher_logits(teacher, train, recipe)
    spec = next(c for c in params.candidates if c.network is not None)
    dims = config_of_teacher["spatial_dims"]
    loader = patches.train_loader(train, recipe, dims, params.seed, extra={"teacher": soft})
    fixed = []
    for epoch in range(1, EPOCHS + 1):
        loader.sampler.set_epoch(epoch)
        fixed += list(loader)
    loss = loop.distillation_loss(params.distill.kd_weight, params.distill.temperature, recipe.batch_dice)
    chosen = loop.precision("cpu", params.amp)
    steps = {}
    for name, dtype in (("float32", None), (loop.precision_name(chosen), chosen)):
        if name in steps:
            continue
        torch.manual_seed(params.seed)
        layout = loop.memory_format(dims, "cpu", dtype)
        net = build_unet({"spatial_dims": dims, **spec.network.model_dump(), "dropout": 0.0},
                         config_of_teacher["out_channels"]).to(memory_format=layout)
        optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
        steps[name] = loop.Step(net, loss, optimizer, "cpu", precision=dtype, memory_format=layout)
    for step in steps.values():
        loop.train_epoch(step, fixed[:1])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(ROUNDS):
        for name, step in steps.items():
            start = time.perf_counter()
            loop.train_epoch(step, fixed)
            seconds[name].append((time.perf_counter() - start) / len(fixed))
    report = {"candidate": spec.name, "compress_amp": params.amp, "threads": params.threads,
              "rounds": ROUNDS, "steps_per_round": len(fixed), "batch_shape": list(fixed[0]["image"].shape),
              "ms_per_step": {name: round(1000 * statistics.median(v), 1) for name, v in seconds.items()}}
    if len(steps) == 2:
        low = next(name for name in steps if name != "float32")
        report["float32_over_" + low] = round(report["ms_per_step"]["float32"] / report["ms_per_step"][low], 3)
    write_json(OUT, report)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
