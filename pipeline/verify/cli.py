"""``python -m pipeline verify``: the released ONNX models against the V&V plan on the locked test split."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.command import Invocation, StageCommand
from pipeline.core.progress import bar

STATUS_CODE = {"PASS": 1, "INCONCLUSIVE": 0, "FAIL": -1}  # MLflow metric per criterion
NOT_APPLICABLE = "NOT APPLICABLE"  # no MLflow metric: nothing was measured


def _run(inv: Invocation) -> dict:
    from pipeline.runtime.model import ROLES, released_file
    from pipeline.verify import stage

    p = inv.paths
    paths = stage.VerifyPaths(
        preprocessed=p.cache, splits=p.splits, models={role: released_file(p.models, role) for role in ROLES},
        teacher_checkpoint=p.checkpoint, out_dir=p.out, metrics=p.metrics,
        plan=Path(inv.args.plan) if inv.args.plan else None, evaluation_log=p.evaluation_log)
    return stage.run(inv.params.verify, paths, progress=bar("verify"))


def _log(inv: Invocation, out: dict) -> None:
    params, mlflow = inv.params.verify, inv.mlflow
    mlflow.log_params({"nsd_tolerance_mm": params.nsd_tolerance_mm, "seed": params.seed,
                       "bootstrap_samples": params.bootstrap_samples, "plan": out["settings"]["plan"],
                       **{f"{n}_sha256": m["sha256"] for n, m in out["models"].items()}})
    flat = {"releasable": float(out["release_status"] == "releasable"), "test_cases": out["test_split"]["cases"],
            "external_cases": (out.get("external_split") or {}).get("cases", 0)}
    for model, estimates in out["summary"].items():
        for metric, est in estimates.items():
            for key in ("mean", "ci_lower", "ci_upper"):
                if est[key] is not None:
                    flat[f"{model}.{metric}.{key}"] = est[key]
    for cid, result in out["criteria"].items():
        if result["status"] in STATUS_CODE:
            flat[f"criterion.{cid}"] = STATUS_CODE[result["status"]]
    mlflow.log_metrics(flat)
    mlflow.set_tag("release_status", out["release_status"])
    mlflow.log_artifact(str(inv.paths.metrics))
    mlflow.log_artifacts(str(inv.paths.out), artifact_path="vnv")


def _summary(inv: Invocation, out: dict) -> str:
    counts = {s: sum(r["status"] == s for r in out["criteria"].values()) for s in (*STATUS_CODE, NOT_APPLICABLE)}
    external = out.get("external_split")
    return (f"verify: {len(out['criteria'])} criteria, {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
            f"{counts['INCONCLUSIVE']} INCONCLUSIVE"
            + (f", {counts[NOT_APPLICABLE]} {NOT_APPLICABLE}" if counts[NOT_APPLICABLE] else "")
            + f" -> {out['release_status']} "
            f"({out['test_split']['cases']} test cases, {inv.seconds} s); look {out['test_split']['looks']} at "
            f"this test split (run {out['test_split']['evaluations']}; a run that shows the same is no new look; "
            f"policy: at most {out['test_split']['max_evaluations']} looks)"
            + (f"; {external['cases']} external cases, look {external['looks']} at that split (run "
               f"{external['evaluations']})" if external else ""))


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", default=None, help="V&V plan YAML (default: verify.plan)")


COMMAND = StageCommand(
    name="verify", help="verify the released ONNX models against the V&V plan",
    paths={"cache": ("cache", "preprocessed cache"), "splits": ("splits", "splits JSON (test split locked)"),
           "models": ("models", "the released ONNX files (teacher.onnx, compressed.onnx when released)"),
           "checkpoint": ("teacher", "torch teacher, used only for Grad-CAM / occlusion evidence"),
           "out": ("vnv_reports", "per-case CSV and evidence PNGs"), "metrics": ("vnv_metrics", "DVC metrics JSON"),
           "evaluation-log": ("test_split_log", "the record of every evaluation of the locked splits (tracked in git)")},
    # as dvc.yaml names them, so the run's recorded dvc.lock hashes are those of exactly what was verified
    recorded_inputs=("cache", "splits", "models", "checkpoint"), core=_run, log=_log, summary=_summary,
    options=_options)
register = COMMAND.register
