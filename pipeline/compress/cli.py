"""``python -m pipeline compress``: build the candidates, measure them on every runtime, choose one or none."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.params import load_section
from pipeline.core.progress import bar

STAGE = "compress"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="distil, prune and quantize the teacher, measure candidates, choose one")
    parser.add_argument("--teacher", default="models/teacher.pt", help="teacher checkpoint")
    parser.add_argument("--cache", default="data/preprocessed", help="preprocessed cache")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON")
    parser.add_argument("--candidates", default="models/candidates", help="folder for the candidates' checkpoints")
    parser.add_argument("--choice", default="models/compression.json", help="choice record to write")
    parser.add_argument("--metrics", default="metrics/compress.json", help="metrics JSON")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_section(STAGE, Path(args.params))
    from pipeline.compress import stage

    paths = stage.CompressPaths(teacher=Path(args.teacher), cache=Path(args.cache), splits=Path(args.splits),
                                candidates=Path(args.candidates), choice=Path(args.choice),
                                metrics=Path(args.metrics))
    for path in (paths.teacher, paths.splits):
        if not path.is_file():
            raise UserError(f"{path} not found: run the preprocess and train stages first")
    start = time.perf_counter()
    metrics = stage.run(params, paths, progress=bar)
    seconds = round(time.perf_counter() - start, 2)
    if not args.no_mlflow:
        _log(params, paths, metrics, seconds)
    shipped = metrics["shipped"]
    headline = (f"compress: chose {metrics['chosen']} ({shipped['speedup']}x faster per volume, "
                f"{shipped['size_reduction']}x smaller, paired val Dice drop {shipped['dice_drop']['mean']:+.4f})"
                if shipped else "compress: NO compressed model met the targets")
    print(f"{headline} in {seconds} s\n  reason: {metrics['reason']}")
    return 0


def _log(params, paths, metrics: dict, seconds: float) -> None:
    from pipeline.core.tracking import stage_run

    with stage_run(STAGE, inputs=[str(paths.teacher), str(paths.cache), str(paths.splits)]) as mlflow:
        mlflow.log_params({"candidates": ",".join(c.name for c in params.candidates),
                           "temperature": params.distill.temperature, "kd_weight": params.distill.kd_weight,
                           "max_dice_drop": params.selection.max_dice_drop,
                           "min_speedup": params.selection.min_speedup,
                           "min_size_reduction": params.selection.min_size_reduction,
                           "quantize": params.quantize.enabled, "chosen": metrics["chosen"] or "none",
                           "runtime": metrics["runtime"]})
        mlflow.set_tag("compression_reason", metrics["reason"][:5000])
        flat = {"seconds": seconds, "compressed": float(metrics["compressed"])}
        for row in metrics["candidates"]:
            for field in ("val_dice", "volume_ms", "torch_eager_volume_ms", "bytes", "speedup", "size_reduction"):
                if isinstance(row.get(field), (int, float)):
                    flat[f"{row['name']}.{row['runtime']}.{field}"] = row[field]
        mlflow.log_metrics(flat)
        for name, result in metrics["training"].items():
            for point in result["curve"]:
                mlflow.log_metric(f"{name}.train_loss", point["loss"], step=point["epoch"])
        mlflow.log_artifact(str(paths.metrics))
        mlflow.log_artifact(str(paths.choice))
