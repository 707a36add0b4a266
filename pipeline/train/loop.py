"""One training epoch (gradient accumulation, AMP on CUDA, DDP no-sync) and sliding-window validation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from monai.inferers import sliding_window_inference
from monai.metrics import compute_dice
from monai.networks.utils import one_hot


@dataclass
class Step:
    """What one epoch needs besides the data."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: str
    accumulation: int = 1
    amp: bool = False
    scaler: torch.amp.GradScaler | None = None


def train_epoch(step: Step, loader, progress=None) -> dict:
    """Train one pass over ``loader``; return mean loss, steps and voxels seen.

    Gradients of ``accumulation`` batches are summed before each optimiser step; under DDP
    the all-reduce runs only on the batch that steps (``no_sync`` on the others).
    """
    step.model.train()
    step.optimizer.zero_grad(set_to_none=True)
    total, batches, voxels = 0.0, 0, 0
    n = len(loader)
    for index, batch in enumerate(progress(loader) if progress else loader):
        image, label = batch["image"].to(step.device), batch["label"].to(step.device)
        last = (index + 1) % step.accumulation == 0 or index + 1 == n
        sync = contextlib.nullcontext() if last or not hasattr(step.model, "no_sync") else step.model.no_sync()
        with sync:
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=step.amp):
                loss = step.loss_fn(step.model(image), label) / step.accumulation
            (step.scaler.scale(loss) if step.scaler else loss).backward()
        if last:
            if step.scaler:
                step.scaler.step(step.optimizer)
                step.scaler.update()
            else:
                step.optimizer.step()
            step.optimizer.zero_grad(set_to_none=True)
        total += float(loss.detach()) * step.accumulation
        batches += 1
        voxels += image[:, 0].numel()
    return {"loss": total / max(batches, 1), "batches": batches, "voxels": voxels}


@torch.no_grad()
def validate(model: torch.nn.Module, cases, patch_size: list[int], sw_batch_size: int,
             overlap: float, device: str, amp: bool = False) -> dict[str, float]:
    """Foreground Dice per val case, from sliding-window inference over the whole case.

    Args:
        model: the network (eval mode is set here).
        cases: ``(case_id, image (1, C, ...), label (1, 1, ...))`` tuples.
        patch_size: the window size.
        sw_batch_size: windows per forward pass.
        overlap: window overlap fraction.
        device: torch device.
        amp: autocast on CUDA.
    """
    model.eval()
    scores = {}
    for case_id, image, label in cases:
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=amp):
            logits = sliding_window_inference(image.to(device), patch_size, sw_batch_size, model,
                                              overlap=overlap, mode="gaussian")
        pred = one_hot(logits.float().argmax(1, keepdim=True).cpu(), num_classes=2)
        truth = one_hot(label, num_classes=2)
        dice = compute_dice(pred, truth, include_background=False, ignore_empty=False)
        scores[case_id] = float(dice.nanmean())
    return scores
