"""Knowledge distillation of the teacher into a narrower student on training patches.

Loss per batch: ``(1 - w) * DiceCE(student, labels) + w * T^2 * KL(softmax(teacher / T) ||
softmax(student / T))`` (Hinton et al.), with ``w = kd_weight`` and ``T = temperature``. The
student with the best mean validation Dice (sliding windows, as in training) is kept.

The teacher's logits are computed once per training case with the sliding-window inference
the teacher is used with, and cropped together with image and label: an epoch then costs only
the student's forward and backward pass (the teacher's forward per patch was most of the
cost), so the student can be trained for as many epochs as it needs.
Only the cases passed in are seen; the stage passes training cases for fitting and
validation cases for selection, never the locked test split.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.data import DataLoader, Dataset, list_data_collate
from monai.inferers import sliding_window_inference
from monai.transforms import Compose, EnsureTyped, RandCropByPosNegLabeld, SpatialPadd

from pipeline.compress.params import DistillParams
from pipeline.train import loop
from pipeline.train.data import val_tensors
from pipeline.train.model import build_loss

KEYS = ("image", "label", "teacher")


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean per-voxel KL divergence of softened class distributions, scaled by T^2."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    soft_teacher = F.softmax(teacher_logits / temperature, dim=1)
    per_voxel = F.kl_div(log_student, soft_teacher, reduction="none").sum(dim=1)
    return per_voxel.mean() * temperature ** 2


def distill(teacher: torch.nn.Module, student: torch.nn.Module, train_cases: list[dict],
            val_cases: list[dict], params: DistillParams, window, progress=None) -> dict:
    """Fit ``student`` to the teacher's soft targets and the labels; keep the best val epoch.

    Args:
        teacher: the trained network (frozen, eval mode).
        student: the network to train (modified in place, best weights loaded at the end).
        train_cases: cases with ``image``/``label`` arrays used for fitting.
        val_cases: cases used to pick the best epoch.
        params: the ``compress.distill`` params.
        window: patch size and sliding-window settings (``WindowSpec``).
        progress: optional callable wrapping an iterable (a progress bar).
    Returns:
        best_val_dice, best_epoch, curve (per-epoch loss and val Dice).
    """
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    soft_targets = teacher_logits(teacher, train_cases, window)
    loader = _loader(train_cases, soft_targets, params, list(window.patch_size))
    gt_loss = build_loss()
    optimizer = torch.optim.AdamW(student.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params.epochs)
    val = val_tensors(val_cases)
    best = {"dice": -1.0, "epoch": 0, "state": None}
    curve = []
    epochs = range(1, params.epochs + 1)
    for epoch in (progress(epochs) if progress else epochs):
        student.train()
        total, batches = 0.0, 0
        for batch in loader:
            image, label, soft = batch["image"], batch["label"], batch["teacher"]
            logits = student(image)
            loss = (1 - params.kd_weight) * gt_loss(logits, label) + \
                params.kd_weight * kd_loss(logits, soft, params.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, batches = total + float(loss.detach()), batches + 1
        schedule.step()
        dice = float("nan")
        if epoch % params.val_every == 0 or epoch == params.epochs:
            scores = loop.validate(student, val, list(window.patch_size), window.sw_batch_size,
                                   window.sw_overlap, "cpu")
            dice = sum(scores.values()) / max(len(scores), 1)
            if dice > best["dice"]:
                best = {"dice": dice, "epoch": epoch,
                        "state": {k: v.detach().clone() for k, v in student.state_dict().items()}}
        curve.append({"epoch": epoch, "loss": round(total / max(batches, 1), 6), "val_dice": dice})
    student.load_state_dict(best["state"])
    student.eval()
    return {"best_val_dice": best["dice"], "best_epoch": best["epoch"], "curve": curve}


@torch.no_grad()
def teacher_logits(teacher: torch.nn.Module, cases: list[dict], window) -> list[torch.Tensor]:
    """The teacher's sliding-window logits ``(classes, *spatial)`` for each case."""
    out = []
    for case in cases:
        image = torch.from_numpy(case["image"])[None].float()
        logits = sliding_window_inference(image, list(window.patch_size), window.sw_batch_size, teacher,
                                          overlap=window.sw_overlap, mode="gaussian")
        out.append(logits[0].float())
    return out


def _loader(cases: list[dict], soft_targets: list[torch.Tensor], params: DistillParams,
            patch_size: list[int]) -> DataLoader:
    chain = Compose([
        SpatialPadd(keys=KEYS, spatial_size=patch_size),
        RandCropByPosNegLabeld(keys=KEYS, label_key="label", spatial_size=patch_size,
                               pos=params.pos_neg_ratio, neg=1.0, num_samples=params.patches_per_case),
        EnsureTyped(keys=KEYS, dtype=(torch.float32, torch.long, torch.float32), track_meta=False),
    ])
    chain.set_random_state(seed=params.seed)
    items = [{"image": case["image"], "label": case["label"], "teacher": soft}
             for case, soft in zip(cases, soft_targets)]
    generator = torch.Generator().manual_seed(params.seed)
    return DataLoader(Dataset(items, transform=chain), batch_size=params.cases_per_batch, shuffle=True,
                      generator=generator, num_workers=0, collate_fn=list_data_collate)
