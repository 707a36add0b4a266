"""The CUDA paths on a GPU machine: teacher training with AMP, candidate training with AMP and
distillation, pruning a GPU-trained teacher, and GPU inference speed of teacher vs student.

Runs on tiny synthetic data in a temporary folder (no ``make repro`` outputs needed); on a
machine without CUDA it runs the same code on the CPU and says so. Usage:
``python -m benchmarks.cuda_check``. DDP runs as one rank (NCCL on CUDA, gloo on the CPU): the
wrapper, ``no_sync`` accumulation, AMP and the batch norms turned into ``SyncBatchNorm``
(``pipeline.recipe.loop.for_ranks``); several ranks need a machine with one GPU per rank.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from pipeline.compress import fit, prune
from pipeline.nets.checkpoint import load_checkpoint
from pipeline.nets.unet import build_unet, parameter_count
from pipeline.params import load_params
from pipeline.recipe import loop, patches
from pipeline.recipe.params import RecipeParams
from pipeline.train import distributed, stage
from pipeline.train.params import TrainParams
from tests.export import tiny


def main() -> None:
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0) if cuda else 'cpu'}, "
          f"GPUs {torch.cuda.device_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache, splits = tiny.make_cache(root, patients=12)
        params = TrainParams.model_validate({
            "network": dict(tiny.NETWORK, channels=[8, 16], strides=[2]), "patch_size": tiny.PATCH,
            "cases_per_batch": 2, "patches_per_case": 2, "epochs": 3, "learning_rate": 0.01, "seed": 11,
            "threads": 2, "sw_batch_size": 2, "augment": {"prob": 0.5}, "device": "auto", "amp": True})
        paths = stage.TrainPaths(cache, splits, root / "teacher.pt", root / "train.json", root / "curve.csv")
        start = time.perf_counter()
        result = stage.run(params, paths, distributed.setup(params.device))
        print(f"train: device {result['device']}, precision {result['precision']}, "
              f"val Dice {result['best_val_dice']:.3f}, {time.perf_counter() - start:.1f} s")
        assert result["device"].startswith(device)
        assert result["precision"] == loop.precision_name(loop.precision(device, True))
        teacher, config = load_checkpoint(paths.model)
        recipe = RecipeParams.model_validate(config["recipe"])
        train, val, _ = patches.load_training_cases(cache, splits)
        soft = fit.teacher_logits(teacher, train, recipe, device)
        student = build_unet(dict(tiny.NETWORK, channels=[4, 8], strides=[2]))
        done = fit.fit(student, train, val, recipe, 3, 3, loop.distillation_loss(0.5, 1.0), 1, device, 1, soft)
        print(f"distill on {device}: val Dice {done['best_val_dice']:.3f}, params {parameter_count(student)}")
        assert next(student.parameters()).device.type == "cpu"  # handed back on the CPU for export
        pruned = prune.prune_channels(teacher, 0.5, torch.zeros(1, 1, *tiny.PATCH))
        tuned = fit.fit(pruned, train, val, recipe, 3, 2, loop.distillation_loss(0.5, 1.0), 1, device, 1, soft)
        print(f"prune+fine-tune on {device}: params {parameter_count(teacher)} -> {parameter_count(pruned)}, "
              f"val Dice {tuned['best_val_dice']:.3f}")
        _ddp_check(device)
    _inference_speed(device)


def _ddp_check(device: str) -> None:
    """One DDP rank training the release's student shape (batch norm) with accumulation and AMP."""
    import os

    import torch.distributed as dist

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    dist.init_process_group("nccl" if device == "cuda" else "gloo", rank=0, world_size=1)
    try:
        student = load_params(Path(__file__).resolve().parents[1] / "params.yaml").compress.candidates[0].network
        network = {"spatial_dims": 3, **student.model_dump(), "dropout": 0.0}  # as compress builds it
        net = loop.for_ranks(build_unet(network), True, device).to(device)
        ddp = torch.nn.parallel.DistributedDataParallel(net)
        dtype = loop.precision(device, True)
        step = loop.Step(ddp, loop.supervised_loss(), torch.optim.AdamW(ddp.parameters(), lr=1e-3), device,
                         accumulation=2, precision=dtype, scaler=loop.scaler(dtype))
        gen = torch.Generator().manual_seed(0)
        batches = [{"image": torch.randn(4, 1, 48, 48, 32, generator=gen),
                    "label": (torch.rand(4, 1, 48, 48, 32, generator=gen) > 0.8).long()} for _ in range(4)]
        result = loop.train_epoch(step, batches)
        synced = sum(isinstance(m, torch.nn.SyncBatchNorm) for m in net.modules())
        build_unet(network).load_state_dict(loop.cpu_state(net))  # the plain network takes the state
        print(f"ddp (1 rank, {dist.get_backend()}): loss {result['loss']:.4f}, {synced} SyncBatchNorm, "
              f"precision {loop.precision_name(dtype)}")
        assert torch.isfinite(torch.tensor(result["loss"])) and (synced > 0) == (device == "cuda")
    finally:
        dist.destroy_process_group()


def _inference_speed(device: str) -> None:
    shapes = {"teacher": dict(channels=[16, 32, 64, 128], strides=[2, 2, 2], num_res_units=2),
              "half_width": dict(channels=[8, 16, 32, 64], strides=[2, 2, 2], num_res_units=0),
              "lean_bn": dict(channels=[8, 16, 32, 64], strides=[2, 2, 2], num_res_units=1, top_residual_unit=False,
                              norm="batch", up_kernel_size=[3, 2, 2])}
    batch = torch.rand(4, 1, 48, 48, 32, device=device)
    for name, shape in shapes.items():
        net = build_unet({"spatial_dims": 3, **shape}).to(device).eval()
        with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device == "cuda"):
            for _ in range(3):
                net(batch)
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(20):
                net(batch)
            if device == "cuda":
                torch.cuda.synchronize()
        print(f"inference {name}: {1000 * (time.perf_counter() - start) / 20 / 4:.2f} ms per 48x48x32 window "
              f"(batch 4, {'AMP fp16' if device == 'cuda' else 'fp32'})")


if __name__ == "__main__":
    main()
