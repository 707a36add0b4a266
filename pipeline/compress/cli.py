"""``python -m pipeline compress``: build the candidates, measure them on every runtime, choose one or none."""

from __future__ import annotations

from pipeline.command import Invocation, StageCommand
from pipeline.core.progress import bar


def _run(inv: Invocation) -> dict:
    from pipeline.compress import stage

    p, export = inv.paths, inv.params.export
    paths = stage.CompressPaths(teacher=p.teacher, cache=p.cache, splits=p.splits, candidates=p.candidates,
                                choice=p.choice, metrics=p.metrics)
    return stage.run(inv.params.compress, paths, progress=bar, opset=export.opset, exporter=export.exporter)


def _log(inv: Invocation, metrics: dict) -> None:
    params, mlflow = inv.params.compress, inv.mlflow
    mlflow.log_params({"candidates": ",".join(c.name for c in params.candidates),
                       "temperature": params.distill.temperature, "kd_weight": params.distill.kd_weight,
                       "max_dice_drop": params.selection.max_dice_drop, "min_speedup": params.selection.min_speedup,
                       "min_size_reduction": params.selection.min_size_reduction,
                       "quantize": params.quantize.enabled, "chosen": metrics["chosen"] or "none",
                       "runtime": metrics["runtime"]})
    mlflow.set_tag("compression_reason", metrics["reason"][:5000])
    flat = {"compressed": float(metrics["compressed"])}
    for row in metrics["candidates"]:
        for field in ("val_dice", "volume_ms", "torch_eager_volume_ms", "bytes", "speedup", "size_reduction"):
            if isinstance(row.get(field), (int, float)):
                flat[f"{row['name']}.{row['runtime']}.{field}"] = row[field]
    mlflow.log_metrics(flat)
    for name, result in metrics["training"].items():
        for point in result["curve"]:
            mlflow.log_metric(f"{name}.train_loss", point["loss"], step=point["epoch"])
    mlflow.log_artifact(str(inv.paths.metrics))
    mlflow.log_artifact(str(inv.paths.choice))


def _summary(inv: Invocation, metrics: dict) -> str:
    shipped = metrics["shipped"]
    headline = (f"compress: chose {metrics['chosen']} ({shipped['speedup']}x faster per volume, "
                f"{shipped['size_reduction']}x smaller, paired val Dice drop {shipped['dice_drop']['mean']:+.4f})"
                if shipped else "compress: NO compressed model met the targets")
    return f"{headline} in {inv.seconds} s\n  reason: {metrics['reason']}"


COMMAND = StageCommand(
    name="compress", help="distil, prune and quantize the teacher, measure candidates, choose one",
    paths={"teacher": ("teacher", "teacher checkpoint"), "cache": ("cache", "preprocessed cache"),
           "splits": ("splits", "splits JSON"), "candidates": ("candidates", "folder for the candidates' checkpoints"),
           "choice": ("choice", "choice record to write"), "metrics": ("compress_metrics", "metrics JSON")},
    inputs=("teacher", "cache", "splits"), missing="run the preprocess and train stages first",
    core=_run, log=_log, summary=_summary)
register = COMMAND.register
