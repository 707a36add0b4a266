"""``python -m pipeline export``: teacher and compressed model to checked ONNX files with parity."""

from __future__ import annotations

from pathlib import Path

from pipeline.command import Invocation, StageCommand


def _run(inv: Invocation) -> dict:
    from pipeline.core.provenance import git_commit
    from pipeline.core.tracking import latest_run_id
    from pipeline.export import stage

    p = inv.paths
    paths = stage.ExportPaths(teacher=p.teacher, candidates=p.candidates, choice=p.choice, cache=p.cache,
                              splits=p.splits, out_dir=p.out, metrics=p.metrics, fingerprint=p.fingerprint)
    run_id = latest_run_id("train") if inv.mlflow is not None else "unknown"
    inv.notes["training_run_id"] = run_id
    return stage.run(inv.params.export, inv.params.preprocess, paths, git_commit(Path(".")), run_id)


def _log(inv: Invocation, metrics: dict) -> None:
    params, mlflow = inv.params.export, inv.mlflow
    mlflow.log_params({"opset": params.opset, "exporter": params.exporter, "parity_atol": params.parity_atol,
                       "model_version": params.model_version, "training_run_id": inv.notes["training_run_id"],
                       "runtime": metrics["runtime"], "runtime_version": metrics["runtime_version"],
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
    mlflow.log_artifact(str(inv.paths.metrics))


def _summary(inv: Invocation, metrics: dict) -> str:
    lines = []
    for role in ("teacher", "compressed"):
        part = metrics[role]
        if part is None:
            lines.append(f"export: no compressed model released ({metrics['compression_reason']})")
            continue
        lines.append(f"export: {role}.onnx {part['onnx']['bytes']} B on {part['runtime']} {part['runtime_version']}, "
                     f"parity max |diff| {part['parity']['max_abs_diff']:.2e}, val Dice {part['parity']['mean_dice']:.4f}")
    lines.append(f"export: per-volume ratios {metrics['ratios']} in {inv.seconds} s")
    return "\n".join(lines)


COMMAND = StageCommand(
    name="export", help="export teacher and compressed model to ONNX, check parity",
    paths={"teacher": ("teacher", "teacher checkpoint"),
           "candidates": ("candidates", "the compress stage's candidate checkpoints"),
           "choice": ("choice", "compress stage's choice"), "cache": ("cache", "preprocessed cache"),
           "splits": ("splits", "splits JSON"),
           "fingerprint": ("fingerprint", "data-set fingerprint (its acquisition ranges go into the model files)"),
           "out": ("models", "folder for the ONNX files"), "metrics": ("export_metrics", "metrics JSON")},
    inputs=("teacher", "choice", "splits"), missing="run the train and compress stages first",
    recorded_inputs=("teacher", "candidates", "choice"), core=_run, log=_log, summary=_summary)
register = COMMAND.register
