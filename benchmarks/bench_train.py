"""Training throughput: the train stage's step vs a plain MONAI loop, same network, batches, threads.

Both loops consume the same pre-drawn batches of the default cohort's patches (or random
tensors when no cache is present), so data loading is identical and only the training step
differs (the stage adds gradient accumulation, DDP no-sync, optional AMP and loss bookkeeping,
and trains a 3D network on the CPU in the channels-last layout, the plain loop in PyTorch's
default, so the ratio includes what the layout buys).
Rounds alternate (stage, plain, stage, plain...) so machine noise hits both alike; the
median voxels per second of each and their ratio are reported (target: ratio >= 1.0).
Run: ``python -m benchmarks train`` (part of ``make bench``). The ISBI 2D benchmark is
``python -m benchmarks.isbi`` (about 30 minutes).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from pipeline.core.atomic import write_json
from pipeline.nets import unet
from pipeline.params import load_params
from pipeline.recipe import determinism, loop, patches
from pipeline.recipe.params import recipe_of

ROUNDS = 5
BATCHES = 6


def batches(params, cache: Path, splits: Path) -> list[dict]:
    """Fixed training batches: patches of the train split, or random data of the same shape."""
    if cache.is_dir() and splits.is_file():
        train, _, _ = patches.load_training_cases(cache, splits)
        loader = patches.train_loader(train, recipe_of(params), params.network.spatial_dims, params.seed)
        drawn = [batch for _, batch in zip(range(BATCHES), iter(loader))]
        if len(drawn) == BATCHES:
            return drawn
    n = params.cases_per_batch * params.patches_per_case
    gen = torch.Generator().manual_seed(0)
    return [{"image": torch.rand(n, 1, *params.patch_size, generator=gen),
             "label": (torch.rand(n, 1, *params.patch_size, generator=gen) > 0.9).long()}
            for _ in range(BATCHES)]


def plain_epoch(net, loss_fn, optimizer, fixed: list[dict]) -> int:
    """The reference: forward, Dice+CE, backward, AdamW step, nothing else."""
    net.train()
    voxels = 0
    for batch in fixed:
        optimizer.zero_grad()
        loss = loss_fn(net(batch["image"]), batch["label"])
        loss.backward()
        optimizer.step()
        voxels += batch["image"][:, 0].numel()
    return voxels


def main() -> dict:
    config = load_params(Path("params.yaml"))
    params = config.train
    determinism.pin(params.seed, params.threads)
    fixed = batches(params, Path(config.paths.cache), Path(config.paths.splits))
    layout = loop.memory_format(params.network.spatial_dims, "cpu")  # as the train stage trains
    stage_net, plain_net = unet.build_unet(params.network).to(memory_format=layout), unet.build_unet(params.network)
    step = loop.Step(stage_net, loop.supervised_loss(params.batch_dice),
                     torch.optim.AdamW(stage_net.parameters(), lr=params.learning_rate), "cpu",
                     accumulation=params.accumulation_steps, memory_format=layout)
    plain_opt = torch.optim.AdamW(plain_net.parameters(), lr=params.learning_rate)
    plain_loss = loop.build_loss(params.batch_dice)
    rates = {"stage": [], "plain_monai": []}
    plain_epoch(plain_net, plain_loss, plain_opt, fixed[:1])  # warm-up both
    loop.train_epoch(step, fixed[:1])
    for _ in range(ROUNDS):
        start = time.perf_counter()
        voxels = loop.train_epoch(step, fixed)["voxels"]
        rates["stage"].append(voxels / (time.perf_counter() - start))
        start = time.perf_counter()
        voxels = plain_epoch(plain_net, plain_loss, plain_opt, fixed)
        rates["plain_monai"].append(voxels / (time.perf_counter() - start))
    report = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    report.update({"ratio_stage_over_plain": round(report["stage"] / report["plain_monai"], 3),
                   "threads": params.threads, "rounds": ROUNDS, "batches_per_round": BATCHES,
                   "batch_shape": list(fixed[0]["image"].shape), "unit": "voxels per second"})
    write_json(Path("bench/results/train_throughput.json"), report)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
