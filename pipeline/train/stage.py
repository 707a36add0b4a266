"""The train core: deterministic U-Net training with best-checkpoint selection on val Dice.

``run`` takes params, paths and the process's place in a DDP job; it never reads
``params.yaml`` or the environment. Rank 0 alone validates, logs and writes files.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from pipeline.core.atomic import atomic_file
from pipeline.core.records import write_record
from pipeline.train.record import TrainMetrics
from pipeline.core.errors import UserError
from pipeline.nets import checkpoint, unet
from pipeline.data.cache import read_index
from pipeline.recipe import determinism, loop, patches
from pipeline.recipe.params import recipe_of
from pipeline.train import distributed
from pipeline.train.params import TrainParams

CURVE_FIELDS = ("epoch", "train_loss", "val_dice", "lr", "seconds")


@dataclass(frozen=True)
class TrainPaths:
    """Inputs and outputs of the stage."""

    cache: Path
    splits: Path
    model: Path
    metrics: Path
    curve: Path


def run(params: TrainParams, paths: TrainPaths, info: distributed.DistInfo = distributed.DistInfo(),
        on_epoch: Callable[[dict], None] | None = None, progress=None) -> dict:
    """Train, select the best epoch by mean val Dice, write checkpoint, metrics and curve.

    Args:
        params: the validated ``train`` section.
        paths: cache, splits and output paths.
        info: this process's DDP rank and device (single process by default).
        on_epoch: called on rank 0 with each epoch's row (MLflow logging).
        progress: optional callable wrapping an iterable (a progress bar).
    """
    pinned = determinism.pin(params.seed, params.threads)
    index = read_index(paths.cache)
    if index.spatial_dims != params.network.spatial_dims:
        raise UserError(f"cache is {index.spatial_dims}D, train.network.spatial_dims is "
                         f"{params.network.spatial_dims}")
    train_cases, val_cases, _ = patches.load_training_cases(paths.cache, paths.splits)
    recipe = recipe_of(params)
    loader = patches.train_loader(train_cases, recipe, params.network.spatial_dims, params.seed, info.rank,
                                  info.world_size)
    val = patches.val_tensors(val_cases)
    outputs = unet.out_channels(index.classes)  # background + the cache's classes
    dtype = loop.precision(info.device, params.amp)
    layout = loop.memory_format(params.network.spatial_dims, info.device, dtype)
    net = loop.for_ranks(unet.build_unet(params.network, outputs), info.distributed, info.device)
    net = net.to(info.device, memory_format=layout)
    trained = DistributedDataParallel(net) if info.distributed else net
    optimizer = torch.optim.AdamW(trained.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
    step = loop.Step(trained, loop.supervised_loss(params.batch_dice), optimizer, info.device,
                     params.accumulation_steps, dtype, loop.scaler(dtype), layout)
    best = {"dice": -1.0, "epoch": 0, "per_case": {}, "per_class": {}, "state": None}
    rows, voxels, start = [], 0, time.perf_counter()
    for epoch in range(1, params.epochs + 1):
        loader.sampler.set_epoch(epoch)
        stats = loop.train_epoch(step, loader, progress if info.is_main else None)
        voxels += stats["voxels"] * info.world_size
        lr = schedule.get_last_lr()[0]
        schedule.step()
        dice = float("nan")
        if info.is_main and loop.validation_due(epoch, params.epochs, params.val_every, params.val_after):
            by_class = loop.validate_classes(net, val, params.patch_size, params.sw_batch_size,
                                             params.sw_overlap, info.device, dtype)
            scores = {case_id: mean for case_id, (mean, _) in by_class.items()}
            dice = sum(scores.values()) / max(len(scores), 1)
            if dice > best["dice"]:
                best = {"dice": dice, "epoch": epoch, "per_case": {k: round(v, 6) for k, v in scores.items()},
                        "per_class": {k: round(v, 6) for k, v in loop.mean_per_class(by_class, index.classes).items()},
                        "state": loop.cpu_state(net)}
        distributed.barrier(info)
        row = {"epoch": epoch, "train_loss": round(stats["loss"], 6), "val_dice": dice, "lr": lr,
               "seconds": round(time.perf_counter() - start, 2)}
        rows.append(row)
        if info.is_main and on_epoch:
            on_epoch(row)
    seconds = time.perf_counter() - start
    if not info.is_main:
        return {"rank": info.rank}
    sha = determinism.weights_sha256(best["state"])
    config = {"network": params.network.model_dump(), "in_channels": unet.IN_CHANNELS,
              "out_channels": outputs, "patch_size": list(params.patch_size),
              "recipe": recipe.model_dump(), "epochs": params.epochs,
              "precision": loop.precision_name(dtype),
              "spatial_dims": index.spatial_dims, "target_spacing_mm": index.target_spacing_mm,
              # in the key order the index file has (sorted): the checkpoint pickles this dict
              "normalisation": dict(sorted(index.normalisation.model_dump().items())),
              "orientation": index.orientation,
              "best_val_dice": best["dice"], "best_epoch": best["epoch"], "weights_sha256": sha, **pinned}
    checkpoint.save_checkpoint(paths.model, best["state"], config)
    metrics = {"best_val_dice": round(best["dice"], 6), "best_epoch": best["epoch"], "epochs": params.epochs,
               "seconds": round(seconds, 2), "weights_sha256": sha, "seed": params.seed,
               "threads": pinned["threads"], "device": info.device, "world_size": info.world_size,
               "train_cases": len(train_cases), "val_cases": len(val_cases),
               "train_voxels_per_second": round(voxels / seconds, 1), "amp": dtype is not None,
               "precision": loop.precision_name(dtype),
               "final_train_loss": rows[-1]["train_loss"], "best_val_dice_per_case": best["per_case"],
               "best_val_dice_per_class": best["per_class"]}
    write_record(paths.metrics, metrics, TrainMetrics, "training metrics")
    _write_curve(paths.curve, rows)
    return {**metrics, "curve": rows, "config": copy.deepcopy(config)}


def _write_curve(path: Path, rows: list[dict]) -> None:
    with atomic_file(Path(path)) as handle:
        handle.write(",".join(CURVE_FIELDS) + "\n")
        for row in rows:
            handle.write(",".join("" if row[k] != row[k] else str(row[k]) for k in CURVE_FIELDS) + "\n")
