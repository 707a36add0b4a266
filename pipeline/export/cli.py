"""``python -m pipeline export``: teacher and compressed model to checked ONNX files with parity."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.params import load_params

STAGE = "export"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="export teacher and compressed model to ONNX, check parity")
    parser.add_argument("--teacher", default="models/teacher.pt", help="teacher checkpoint")
    parser.add_argument("--candidates", default="models/candidates", help="the compress stage's candidate checkpoints")
    parser.add_argument("--choice", default="models/compression.json", help="compress stage's choice")
    parser.add_argument("--cache", default="data/preprocessed", help="preprocessed cache")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON")
    parser.add_argument("--fingerprint", default="metrics/fingerprint.json",
                        help="data-set fingerprint (its acquisition ranges are written into the model files)")
    parser.add_argument("--out", default="release/models", help="folder for the ONNX files")
    parser.add_argument("--metrics", default="metrics/export.json", help="metrics JSON")
    parser.add_argument("--train-metrics", default="metrics/train.json", help="where a training run ID may be")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_params(Path(args.params))
    from pipeline.export import stage
    from pipeline.core.provenance import git_commit

    paths = stage.ExportPaths(teacher=Path(args.teacher), candidates=Path(args.candidates), choice=Path(args.choice),
                              cache=Path(args.cache), splits=Path(args.splits), out_dir=Path(args.out),
                              metrics=Path(args.metrics), fingerprint=Path(args.fingerprint))
    for path in (paths.teacher, paths.choice, paths.splits):
        if not path.is_file():
            raise UserError(f"{path} not found: run the train and compress stages first")
    run_id = training_run_id(Path(args.train_metrics), use_mlflow=not args.no_mlflow)
    start = time.perf_counter()
    metrics = stage.run(params.export, params.preprocess, paths, git_commit(Path(".")), run_id)
    seconds = round(time.perf_counter() - start, 2)
    if not args.no_mlflow:
        _log(params.export, paths, metrics, run_id)
    for role in ("teacher", "compressed"):
        part = metrics[role]
        if part is None:
            print(f"export: no compressed model released ({metrics['compression_reason']})")
            continue
        print(f"export: {role}.onnx {part['onnx']['bytes']} B on {part['runtime']} {part['runtime_version']}, "
              f"parity max |diff| {part['parity']['max_abs_diff']:.2e}, val Dice {part['parity']['mean_dice']:.4f}")
    print(f"export: per-volume ratios {metrics['ratios']} in {seconds} s")
    return 0


def training_run_id(train_metrics: Path, use_mlflow: bool = True) -> str:
    """The training run's MLflow ID: from ``metrics/train.json`` if recorded, else the latest
    MLflow run tagged ``stage=train``, else ``unknown``."""
    if train_metrics.is_file():
        recorded = json.loads(train_metrics.read_text()).get("mlflow_run_id")
        if recorded:
            return str(recorded)
    if not use_mlflow:
        return "unknown"
    from pipeline.core.tracking import tracking_uri

    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    runs = mlflow.search_runs(experiment_names=["pipeline"], filter_string="tags.stage = 'train'",
                              order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    return runs[0].info.run_id if runs else "unknown"


def _log(params, paths, metrics: dict, run_id: str) -> None:
    from pipeline.core.tracking import stage_run

    with stage_run(STAGE, inputs=[str(paths.teacher), str(paths.candidates), str(paths.choice)]) as mlflow:
        mlflow.log_params({"opset": params.opset, "exporter": params.exporter,
                           "parity_atol": params.parity_atol, "model_version": params.model_version,
                           "training_run_id": run_id, "runtime": metrics["runtime"],
                           "runtime_version": metrics["runtime_version"],
                           "compressed_released": metrics["compressed_released"]})
        flat = {f"ratio_{k}": v for k, v in metrics["ratios"].items()}
        flat.update({f"volume_ms_{k}": v for k, v in metrics["volume_latency_ms"].items() if isinstance(v, float)})
        for role in ("teacher", "compressed"):
            part = metrics[role]
            if part is None:
                continue
            flat.update({f"{role}_bytes": part["onnx"]["bytes"], f"{role}_parameters": part["parameters"],
                         f"{role}_val_dice": part["parity"]["mean_dice"],
                         f"{role}_parity_max_abs_diff": part["parity"]["max_abs_diff"],
                         f"{role}_argmax_mismatches": part["parity"]["argmax_mismatches"]})
            mlflow.set_tag(f"{role}_onnx_sha256", part["onnx"]["sha256"])
        mlflow.log_metrics(flat)
        mlflow.log_artifact(str(paths.metrics))
