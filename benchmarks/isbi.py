"""ISBI 2012 EM membranes: 2D U-Net trained with the train stage, tested on a held-out block.

``python -m benchmarks.isbi [--epochs N] [--data DIR] [--out FILE]``. Sections 0..29 are
consecutive, so the split is by blocks (neighbouring sections stay together): train 0-20,
val 21-23 (model selection), test 24-29 (held out, read once at the end). Reports the Dice of
both classes (membrane, cell interior) and the pixel error on the test block, and the CPU
training time. The original U-Net reported a pixel error of 0.0611 on the challenge's
hidden test set; the target here is at most 0.08 within 30 minutes of 2-core CPU training.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from pipeline.core.atomic import write_json
from pipeline.core.records import write_record
from pipeline.data import cache
from pipeline.preprocess import stage as preprocess
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.records import CacheIndex, SplitsRecord, load_splits
from pipeline.train import stage as train
from pipeline.nets.checkpoint import load_checkpoint
from pipeline.train.params import TrainParams

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2012-membranes"
BLOCKS = {"train": range(0, 21), "val": range(21, 24), "test": range(24, 30)}
TRAIN = {
    "network": {"spatial_dims": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2],
                "num_res_units": 2},
    "patch_size": [256, 256], "cases_per_batch": 2, "patches_per_case": 2, "pos_neg_ratio": 1.0,
    "flip_prob": 0.5, "batch_dice": True, "learning_rate": 0.003, "val_every": 5, "sw_batch_size": 4,
    "sw_overlap": 0.5, "seed": 2012, "threads": 2,
}


def block_splits(index: CacheIndex) -> dict:
    """Splits by consecutive sections, in the stage's splits record (``SplitsRecord``: unstratified,
    the fractions those of the blocks, the seed unused)."""
    record = {name: [{"case_id": str(i), "patient_id": str(i), "sha256": index.cases[str(i)].sha256,
                      "stratum": "block"} for i in ids] for name, ids in BLOCKS.items()}
    record["external"] = []
    total = sum(len(ids) for ids in BLOCKS.values())
    return {"seed": 0, "stratify_by": "none", "val_fraction": len(BLOCKS["val"]) / total,
            "test_fraction": len(BLOCKS["test"]) / total, "external_sites": [], "locked": ["test"], "splits": record,
            "counts": {name: {"cases": len(cases), "patients": len(cases)} for name, cases in record.items()}}


def evaluate(model_path: Path, cases: list[cache.LoadedCase]) -> dict:
    """Pixel error and Dice of both classes over the test sections (pixels pooled)."""
    net, config = load_checkpoint(model_path)
    errors, inter, sizes = 0, np.zeros(2), np.zeros(2)
    total = 0
    with torch.no_grad():
        for case in cases:
            image = torch.from_numpy(case.image)[None]
            logits = sliding_window_inference(image, config["patch_size"], 4, net, overlap=0.5, mode="gaussian")
            pred = logits.argmax(1)[0].numpy()
            truth = case.label[0]
            errors += int((pred != truth).sum())
            total += truth.size
            for cls in (0, 1):
                inter[cls] += np.logical_and(pred == cls, truth == cls).sum()
                sizes[cls] += (pred == cls).sum() + (truth == cls).sum()
    dice = 2 * inter / sizes
    return {"pixel_error": round(errors / total, 5), "dice_membrane": round(float(dice[1]), 5),
            "dice_cell_interior": round(float(dice[0]), 5), "test_sections": [c.case_id for c in cases]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=150, help="about 8 min on 2 CPU cores")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/isbi.json"))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"isbi: {args.data} not found; skipped")
        return {}
    work = Path(tempfile.mkdtemp(prefix="isbi-"))
    pre = PreprocessParams.model_validate({
        "source": {"format": "image_folder", "path": str(args.data), "classes": [{"name": "membrane", "values": [0]}]},
        "max_bad_fraction": 0.0, "target_spacing_mm": [1.0, 1.0], "normalisation": {"kind": "zscore"},
        "crop_foreground": False,
        "splits": {"seed": 0, "val_fraction": 0.1, "test_fraction": 0.2, "stratify_by": "none"}})
    preprocess.run(pre, preprocess.PreprocessPaths(work / "cache", work / "unused_splits.json", work / "fingerprint.json"))
    write_record(work / "splits.json", block_splits(cache.read_index(work / "cache")), SplitsRecord, "splits")
    params = TrainParams.model_validate({**TRAIN, "epochs": args.epochs, "threads": args.threads})
    paths = train.TrainPaths(work / "cache", work / "splits.json", work / "model.pt", work / "train.json",
                             work / "curve.csv")
    start = time.perf_counter()
    result = train.run(params, paths, on_epoch=lambda row: print(row, flush=True) if row["val_dice"] == row["val_dice"] else None)
    seconds = time.perf_counter() - start
    test = cache.load_cases(work / "cache", load_splits(work / "splits.json"), ["test"], allow_locked=True)["test"]
    report = {**evaluate(paths.model, test), "train_seconds": round(seconds, 1), "epochs": args.epochs,
              "threads": args.threads, "best_val_dice_membrane": result["best_val_dice"],
              "best_epoch": result["best_epoch"], "reference_unet_pixel_error": 0.0611, "target_pixel_error": 0.08}
    write_json(args.out, report)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
