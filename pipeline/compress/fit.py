"""Train one candidate network with the teacher's own recipe; keep its best validation epoch.

The recipe (patches, augmentation, loss, AdamW, cosine schedule, sliding-window validation)
is the one stored in the teacher's checkpoint; the number of epochs and the precision
(``compress.amp``) are the candidate's.
A distilled candidate also gets the teacher's logits as soft targets: they are computed once
per training case with the sliding windows the teacher is used with, and cropped together
with image and label, so an epoch costs only the candidate's own forward and backward pass.
The teacher sees the un-augmented image, the candidate the augmented patch: the student
learns to answer on a noisier, blurrier or differently contrasted scan what the teacher
answers on the clean one.
Only the cases passed in are seen; the stage passes training cases for fitting and
validation cases for selection, never the locked test split.
"""

from __future__ import annotations

import time

import torch
from monai.inferers import sliding_window_inference

from pipeline.data.cache import LoadedCase
from pipeline.recipe import loop, patches
from pipeline.recipe.params import RecipeParams


def fit(net: torch.nn.Module, train: list[LoadedCase], val: list[LoadedCase], recipe: RecipeParams,
        spatial_dims: int, epochs: int, loss, seed: int, device: str = "cpu", val_every: int = 4,
        soft_targets=None, progress=None, val_after: float = 0.0, amp: bool = False) -> dict:
    """Train ``net`` in place; load its best validation epoch at the end.

    Args:
        net: the network to train (moved to ``device``; left in eval mode on the CPU).
        train: training cases (their ``image`` and ``label``).
        val: validation cases for choosing the epoch.
        recipe: the teacher's training recipe.
        spatial_dims: 2 or 3.
        epochs: epochs of the cosine schedule.
        loss: ``(logits, batch) -> loss`` (``pipeline.recipe.loop.distillation_loss``).
        seed: seed of the patch sampling.
        device: torch device (CUDA with AMP when available).
        val_every: validate every N epochs (and after the last).
        soft_targets: the teacher's logits per training case (distillation) or None.
        progress: optional callable wrapping an iterable (a progress bar).
        val_after: the share of the epochs before the first validation.
        amp: mixed precision (``pipeline.recipe.loop.precision``).
    Returns:
        best_val_dice, best_epoch, per-case val Dice of that epoch, curve, seconds.
    """
    start = time.perf_counter()
    dtype = loop.precision(device, amp)
    extra = {"teacher": soft_targets} if soft_targets is not None else None
    loader = patches.train_loader(train, recipe, spatial_dims, seed, extra=extra)
    layout = loop.memory_format(spatial_dims, device, dtype)
    net = net.to(device, memory_format=layout)
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    step = loop.Step(net, loss, optimizer, device, recipe.accumulation_steps, dtype, loop.scaler(dtype), layout)
    val_tensors = patches.val_tensors(val)
    best = {"dice": -1.0, "epoch": 0, "per_case": {}, "state": None}
    curve = []
    rounds = range(1, epochs + 1)
    for epoch in (progress(rounds) if progress else rounds):
        loader.sampler.set_epoch(epoch)
        stats = loop.train_epoch(step, loader)
        schedule.step()
        dice = float("nan")
        if loop.validation_due(epoch, epochs, val_every, val_after):
            scores = loop.validate(net, val_tensors, list(recipe.patch_size), recipe.sw_batch_size,
                                   recipe.sw_overlap, device, dtype)
            dice = sum(scores.values()) / max(len(scores), 1)
            if dice > best["dice"]:
                best = {"dice": dice, "epoch": epoch, "per_case": scores,
                        "state": loop.cpu_state(net)}
        curve.append({"epoch": epoch, "loss": round(stats["loss"], 6), "val_dice": dice})
    net.to("cpu", memory_format=torch.contiguous_format)
    net.load_state_dict(best["state"])
    net.eval()
    return {"best_val_dice": best["dice"], "best_epoch": best["epoch"],
            "per_case": {k: round(v, 6) for k, v in best["per_case"].items()}, "curve": curve,
            "precision": loop.precision_name(dtype),
            "seconds": round(time.perf_counter() - start, 2)}


@torch.no_grad()
def teacher_logits(teacher: torch.nn.Module, cases: list[LoadedCase], recipe: RecipeParams,
                   device: str = "cpu") -> list[torch.Tensor]:
    """The teacher's sliding-window logits ``(classes, *spatial)`` per case, on the CPU."""
    teacher = teacher.to(device).eval()
    out = []
    for case in cases:
        image = torch.from_numpy(case.image)[None].float().to(device)
        logits = sliding_window_inference(image, list(recipe.patch_size), recipe.sw_batch_size, teacher,
                                          overlap=recipe.sw_overlap, mode="gaussian")
        out.append(logits[0].float().cpu())
    teacher.to("cpu")
    return out
