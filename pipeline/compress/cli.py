"""``python -m pipeline compress``: distil, quantize, measure the candidates and choose one."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.errors import UserError
from pipeline.params import load_section
from pipeline.progress import bar

STAGE = "compress"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="distil and quantize the teacher, measure candidates, choose one")
    parser.add_argument("--teacher", default="models/teacher.pt", help="teacher checkpoint")
    parser.add_argument("--cache", default="data/preprocessed", help="preprocessed cache")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON")
    parser.add_argument("--student", default="models/student.pt", help="student checkpoint to write")
    parser.add_argument("--choice", default="models/compression.json", help="choice record to write")
    parser.add_argument("--metrics", default="metrics/compress.json", help="metrics JSON")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_section(STAGE, Path(args.params))
    from pipeline.compress import stage

    paths = stage.CompressPaths(teacher=Path(args.teacher), cache=Path(args.cache), splits=Path(args.splits),
                                student=Path(args.student), choice=Path(args.choice), metrics=Path(args.metrics))
    for path in (paths.teacher, paths.splits):
        if not path.is_file():
            raise UserError(f"{path} not found: run the preprocess and train stages first")
    start = time.perf_counter()
    metrics = stage.run(params, paths, progress=bar("distill epochs"))
    seconds = round(time.perf_counter() - start, 2)
    if not args.no_mlflow:
        _log(params, paths, metrics, seconds)
    print(f"compress: chose {metrics['chosen']} ({metrics['speedup_vs_ort_teacher']}x faster, "
          f"{metrics['size_reduction']}x smaller, val Dice drop {metrics['dice_drop']:+.4f}) in {seconds} s\n"
          f"  reason: {metrics['reason']}")
    return 0


def _log(params, paths, metrics: dict, seconds: float) -> None:
    from pipeline.tracking import stage_run

    with stage_run(STAGE, inputs=[str(paths.teacher), str(paths.cache), str(paths.splits)]) as mlflow:
        mlflow.log_params({"students": ",".join(s.name for s in params.students),
                           "temperature": params.distill.temperature, "kd_weight": params.distill.kd_weight,
                           "distill_epochs": params.distill.epochs, "max_dice_drop": params.max_dice_drop,
                           "quantize": params.quantize.enabled, "chosen": metrics["chosen"]})
        mlflow.set_tag("compression_reason", metrics["reason"][:5000])
        flat = {"seconds": seconds, "dice_drop": metrics["dice_drop"],
                "speedup_vs_ort_teacher": metrics["speedup_vs_ort_teacher"],
                "size_reduction": metrics["size_reduction"]}
        for row in metrics["candidates"]:
            for key in ("val_dice", "latency_ms", "bytes", "parameters"):
                if isinstance(row.get(key), (int, float)):
                    flat[f"{row['name']}.{key}"] = row[key]
        mlflow.log_metrics(flat)
        for name, student in metrics["students"].items():
            for point in student["curve"]:
                mlflow.log_metric(f"{name}.distill_loss", point["loss"], step=point["epoch"])
        mlflow.log_artifact(str(paths.metrics))
        mlflow.log_artifact(str(paths.choice))
