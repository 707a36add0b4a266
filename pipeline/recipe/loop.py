"""One training epoch (gradient accumulation, AMP on CUDA, DDP no-sync), the losses, and
sliding-window validation.

The loss is a function of the logits and the whole batch, so the same epoch trains the
teacher on labels (``supervised_loss``) and a student on labels plus the teacher's soft
targets (``distillation_loss``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.metrics import compute_dice
from monai.networks.utils import one_hot


@dataclass
class Step:
    """What one epoch needs besides the data."""

    model: torch.nn.Module
    loss_fn: Callable[[torch.Tensor, dict], torch.Tensor]  # (logits, batch) -> loss
    optimizer: torch.optim.Optimizer
    device: str
    accumulation: int = 1
    precision: torch.dtype | None = None  # autocast dtype (``precision``); None: float32
    scaler: torch.amp.GradScaler | None = None
    memory_format: torch.memory_format = torch.contiguous_format  # of the input batch (``memory_format``)


def precision(device: str, amp: bool) -> torch.dtype | None:
    """The autocast dtype a run computes in, or None for float32.

    With ``amp``: float16 on CUDA (with a gradient scaler); bfloat16 on a CPU with native
    bfloat16 arithmetic (AVX512-BF16 or AMX tiles), where oneDNN's bfloat16 convolutions ran a
    training step of the default teacher 1.4x faster on 2 cores (153 -> 109 ms; torch 2.13).
    A CPU without it would emulate bfloat16, slower than float32: float32 there. Weights,
    optimiser state and losses stay float32; which precision ran is recorded with the run, as
    it changes the weights like the thread count does.
    """
    if not amp:
        return None
    if str(device).startswith("cuda"):
        return torch.float16
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """``float32``, ``bfloat16`` or ``float16`` (for records)."""
    return str(dtype or torch.float32).removeprefix("torch.")


def autocast(device: str, dtype: torch.dtype | None):
    """``torch.autocast`` on ``device``'s type in ``dtype``; off (float32) for None."""
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    return torch.autocast(device_type=kind, dtype=dtype or torch.float32, enabled=dtype is not None)


def scaler(dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A gradient scaler for float16 (its small range underflows gradients); None otherwise."""
    return torch.amp.GradScaler("cuda") if dtype == torch.float16 else None


def memory_format(spatial_dims: int, device: str, dtype: torch.dtype | None = None) -> torch.memory_format:
    """The memory layout a network trains in: ``channels_last_3d`` for a 3D network in float32 on
    the CPU, where oneDNN's channels-last 3D convolutions ran a real training epoch 1.2x faster
    on 2 cores (teacher 228 -> 185 ms a step, slim student 131 -> 108; torch 2.13); the default
    layout elsewhere: in bfloat16 on the CPU channels-last was slower (teacher 140 against
    109 ms a step, distilled student 80 against 55), CUDA and 2D were not measured. The layout
    changes the order of floating point sums, so it is part of what makes a run reproducible,
    like the thread count.
    """
    cpu_fp32 = not str(device).startswith("cuda") and dtype is None
    return torch.channels_last_3d if spatial_dims == 3 and cpu_fp32 else torch.contiguous_format


def for_ranks(model: torch.nn.Module, distributed: bool, device: str) -> torch.nn.Module:
    """``model`` as it trains on this rank: under DDP on CUDA its batch norms become
    ``SyncBatchNorm`` (statistics over every rank's batch, not each rank's few patches); the
    state keys are the same, so checkpoints load into the plain network. Elsewhere, unchanged
    (gloo on the CPU has no synchronised batch norm)."""
    if distributed and str(device).startswith("cuda"):
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s state in the default layout (checkpoints and weight
    hashes do not depend on the layout it trained in)."""
    return {k: v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in model.state_dict().items()}


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
        batch = {k: v.to(step.device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        image = batch["image"].contiguous(memory_format=step.memory_format)
        last = (index + 1) % step.accumulation == 0 or index + 1 == n
        sync = contextlib.nullcontext() if last or not hasattr(step.model, "no_sync") else step.model.no_sync()
        with sync:
            with autocast(step.device, step.precision):
                logits = step.model(image)
            loss = step.loss_fn(logits.float(), batch) / step.accumulation
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


def validation_due(epoch: int, epochs: int, every: int, after: float = 0.0) -> bool:
    """Whether ``epoch`` (1-based) validates: every ``every`` epochs once the share ``after`` of
    the schedule has passed, and always the last.

    Validation consumes no random numbers, so when it runs changes which epoch is kept, never
    the training itself; early epochs of a cosine schedule are not the best ones, and skipping
    their validation saves its cost (on a 2-core CPU about a tenth of the teacher's training).
    """
    return epoch == epochs or (epoch > after * epochs and epoch % every == 0)


def validate(model: torch.nn.Module, cases, patch_size: list[int], sw_batch_size: int,
             overlap: float, device: str, dtype: torch.dtype | None = None) -> dict[str, float]:
    """Dice per val case, the mean over the foreground classes (binary: the one class's Dice),
    from sliding-window inference over the whole case (arguments as ``validate_classes``)."""
    return {case_id: mean for case_id, (mean, _) in
            validate_classes(model, cases, patch_size, sw_batch_size, overlap, device, dtype).items()}


@torch.no_grad()
def validate_classes(model: torch.nn.Module, cases, patch_size: list[int], sw_batch_size: int,
                     overlap: float, device: str,
                     dtype: torch.dtype | None = None) -> dict[str, tuple[float, list[float]]]:
    """Per val case: the mean Dice over the foreground classes and the Dice of each (classes 1..N),
    from sliding-window inference over the whole case (MONAI's ``one_hot`` and ``compute_dice``;
    a class absent from both masks counts 1.0, absent from one 0.0).

    Args:
        model: the network (eval mode is set here).
        cases: ``(case_id, image (1, C, ...), label (1, 1, ...))`` tuples.
        patch_size: the window size.
        sw_batch_size: windows per forward pass.
        overlap: window overlap fraction.
        device: torch device.
        dtype: the autocast dtype the run trains in (``precision``), None for float32.
    """
    model.eval()
    scores = {}
    for case_id, image, label in cases:
        with autocast(device, dtype):
            logits = sliding_window_inference(image.to(device), patch_size, sw_batch_size, model,
                                              overlap=overlap, mode="gaussian")
        classes = int(logits.shape[1])
        pred = one_hot(logits.float().argmax(1, keepdim=True).cpu(), num_classes=classes)
        truth = one_hot(label, num_classes=classes)
        dice = compute_dice(pred, truth, include_background=False, ignore_empty=False)
        scores[case_id] = (float(dice.nanmean()), [float(v) for v in dice[0]])
    return scores


def mean_per_class(per_case: dict[str, tuple[float, list[float]]], classes: list[str]) -> dict[str, float]:
    """Class name -> its mean Dice over the cases of ``validate_classes``."""
    if not per_case:
        return {name: float("nan") for name in classes}
    return {name: sum(values[i] for _, values in per_case.values()) / len(per_case)
            for i, name in enumerate(classes)}


def build_loss(batch_dice: bool = False) -> DiceCELoss:
    """Dice + cross-entropy on softmax outputs against integer labels.

    Args:
        batch_dice: compute the Dice term over the whole batch instead of per patch (steadier
            for small structures and for patches without foreground).
    """
    return DiceCELoss(to_onehot_y=True, softmax=True, batch=batch_dice)


def supervised_loss(batch_dice: bool = False) -> Callable[[torch.Tensor, dict], torch.Tensor]:
    """Dice + CE of the logits against ``batch["label"]``."""
    dice_ce = build_loss(batch_dice)
    return lambda logits, batch: dice_ce(logits, batch["label"])


def distillation_loss(kd_weight: float, temperature: float,
                      batch_dice: bool = False) -> Callable[[torch.Tensor, dict], torch.Tensor]:
    """``(1 - w) * DiceCE(labels) + w * T^2 * KL(softmax(teacher / T) || softmax(student / T))``.

    Hinton et al.'s soft targets, with ``batch["teacher"]`` the teacher's logits cropped with the
    patch; ``w = 0`` is plain supervised training.
    """
    dice_ce = build_loss(batch_dice)

    def loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
        value = dice_ce(logits, batch["label"])
        if kd_weight == 0:
            return value
        return (1 - kd_weight) * value + kd_weight * kd_loss(logits.float(), batch["teacher"], temperature)

    return loss


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean per-voxel KL divergence of softened class distributions, scaled by T^2."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    soft_teacher = F.softmax(teacher_logits / temperature, dim=1)
    per_voxel = F.kl_div(log_student, soft_teacher, reduction="none").sum(dim=1)
    return per_voxel.mean() * temperature ** 2
