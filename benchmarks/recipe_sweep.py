"""How validation Dice depends on the epoch budget, over several seeds: teacher and student.

Training only ever sees the train split and selection the val split (``load_training_cases``
never returns the locked splits). Each configuration is trained with several seeds because one
validation checkpoint of 15 cases moves by about 0.02 Dice from one epoch to the next: a single
run per budget would rank noise. Meant for a GPU machine (a run takes seconds there); on the
CPU it runs the same code, slowly. Usage, after ``make repro`` has written ``data/preprocessed``:
``python -m benchmarks.recipe_sweep [--out FILE]``; one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pipeline.compress import fit
from pipeline.nets.unet import build_unet
from pipeline.params import load_section
from pipeline.recipe import determinism, loop, patches
from pipeline.recipe.params import recipe_of
from pipeline.train.params import TrainParams

STUDENT = {"channels": [6, 16, 32, 64], "strides": [2, 2, 2], "num_res_units": 1}
RUNS = [("teacher", e) for e in (20, 30, 40)] + [("student", e) for e in (30, 50, 80)]
SEEDS = (1, 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="default: paths.cache of params.yaml")
    parser.add_argument("--splits", type=Path, default=None, help="default: paths.splits of params.yaml")
    parser.add_argument("--distill", action="store_true",
                        help="instead: the student distilled from a 40-epoch teacher vs from scratch, 80 epochs")
    args = parser.parse_args()
    from pipeline.params import repo_paths

    where = repo_paths(Path("."))
    args.cache, args.splits = args.cache or Path(where.cache), args.splits or Path(where.splits)
    params = TrainParams.model_validate(load_section("train", Path("params.yaml")).model_dump())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train, val, _ = patches.load_training_cases(args.cache, args.splits)
    recipe = recipe_of(params)
    results: dict[tuple[str, int], list[float]] = {}
    runs, soft = RUNS, None
    if args.distill:
        determinism.pin(0, params.threads)
        teacher = build_unet({"spatial_dims": 3, **params.network.model_dump()})
        fit.fit(teacher, train, val, recipe, 3, 40, loop.supervised_loss(params.batch_dice), 0, device, 4, None,
                None, 0.45)
        soft = fit.teacher_logits(teacher, train, recipe, device)
        runs = [("student", 80), ("distilled", 80)]
    for kind, epochs in runs:
        for seed in SEEDS:
            determinism.pin(seed, params.threads)
            torch.manual_seed(seed)
            shape = params.network.model_dump() if kind == "teacher" else {**STUDENT, "dropout": 0.0}
            net = build_unet({"spatial_dims": 3, **shape})
            start = time.perf_counter()
            distilled = kind == "distilled"
            loss = (loop.distillation_loss(0.5, 1.0, params.batch_dice) if distilled
                    else loop.supervised_loss(params.batch_dice))
            out = fit.fit(net, train, val, recipe, 3, epochs, loss, seed, device, 2, soft if distilled else None,
                          None, 0.4)
            row = {"kind": kind, "epochs": epochs, "seed": seed, "best_val_dice": round(out["best_val_dice"], 4),
                   "best_epoch": out["best_epoch"], "last_val_dice": round(out["curve"][-1]["val_dice"], 4),
                   "seconds": round(time.perf_counter() - start, 1), "device": device}
            results.setdefault((kind, epochs), []).append(row["last_val_dice"])
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
    for (kind, epochs), values in results.items():
        print(f"{kind:8s} {epochs:3d} epochs: last-epoch val Dice mean {statistics.mean(values):.4f} "
              f"(min {min(values):.4f}, max {max(values):.4f}, {len(values)} seeds)")


if __name__ == "__main__":
    main()
