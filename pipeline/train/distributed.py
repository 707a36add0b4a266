"""Distributed data parallel through ``torchrun``: gloo on CPU, nccl on CUDA; rank 0 logs and saves."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from pipeline.core.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str = "none"

    @property
    def is_main(self) -> bool:
        """Only rank 0 logs, writes files and talks to MLflow."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(wanted: str, local_rank: int = 0) -> str:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if wanted == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device is cuda but no CUDA device is available: set train.device to auto or cpu")
    if wanted == "cpu" or not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{local_rank}"


def setup(wanted_device: str, env: dict[str, str] | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    Args:
        wanted_device: ``train.device`` (auto, cpu, cuda).
        env: the environment (``os.environ`` when None); read only by the CLI wrapper.
    """
    env = dict(os.environ if env is None else env)
    world = int(env.get("WORLD_SIZE", "1"))
    rank, local = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0"))
    device = pick_device(wanted_device, local)
    if world <= 1:
        return DistInfo(device=device)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=device, backend=backend)


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op without DDP)."""
    if info.distributed:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group."""
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
