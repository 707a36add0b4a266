"""``python -m pipeline verify``: the released ONNX models against the V&V plan on the locked test split."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.params import load_section
from pipeline.core.progress import bar

STAGE = "verify"
STATUS_CODE = {"PASS": 1, "INCONCLUSIVE": 0, "FAIL": -1}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="verify the released ONNX models against the V&V plan")
    parser.add_argument("--cache", default="data/preprocessed", help="preprocessed cache")
    parser.add_argument("--splits", default="data/splits.json", help="splits JSON (test split locked)")
    parser.add_argument("--teacher", default="release/models/teacher.onnx", help="teacher ONNX file")
    parser.add_argument("--compressed", default="release/models/compressed.onnx", help="compressed ONNX file")
    parser.add_argument("--checkpoint", default="models/teacher.pt",
                        help="torch teacher, used only for Grad-CAM / occlusion evidence")
    parser.add_argument("--plan", default=None, help="V&V plan YAML (default: verify.plan)")
    parser.add_argument("--out", default="reports/vnv", help="per-case CSV and evidence PNGs")
    parser.add_argument("--metrics", default="metrics/vnv.json", help="DVC metrics JSON")
    parser.add_argument("--evaluation-log", default="verification/test_split_log.json",
                        help="the record of every evaluation of the test split (tracked in git)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    params = load_section(STAGE, Path(args.params))
    from pipeline.verify import stage

    paths = stage.VerifyPaths(
        preprocessed=Path(args.cache), splits=Path(args.splits),
        models={"teacher": Path(args.teacher), "compressed": Path(args.compressed)},
        teacher_checkpoint=Path(args.checkpoint), out_dir=Path(args.out),
        metrics=Path(args.metrics), plan=Path(args.plan) if args.plan else None,
        evaluation_log=Path(args.evaluation_log))
    start = time.perf_counter()
    out = stage.run(params, paths, progress=bar(STAGE))
    seconds = round(time.perf_counter() - start, 2)
    if not args.no_mlflow:
        _log(params, paths, out, args.metrics, seconds)
    counts = {s: sum(r["status"] == s for r in out["criteria"].values()) for s in STATUS_CODE}
    print(f"verify: {len(out['criteria'])} criteria, {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
          f"{counts['INCONCLUSIVE']} INCONCLUSIVE -> {out['release_status']} "
          f"({out['test_split']['cases']} test cases, {seconds} s); evaluation "
          f"{out['test_split']['evaluations']} of this test split (policy: at most "
          f"{out['test_split']['max_evaluations']})"
          + (f"; {out['external_split']['cases']} external cases, evaluation "
             f"{out['external_split']['evaluations']} of that split" if out.get("external_split") else ""))
    return 0



def _log(params, paths, out: dict, metrics_path: str, seconds: float) -> None:
    from pipeline.core.tracking import stage_run

    # as dvc.yaml names them (the ONNX files are outputs of export as one folder), so the
    # run's recorded dvc.lock hashes are those of exactly what was verified
    folders = sorted({str(Path(p).parent) for p in paths.models.values()})
    inputs = [str(paths.preprocessed), str(paths.splits), *folders, str(paths.teacher_checkpoint)]
    with stage_run(STAGE, inputs=inputs) as mlflow:
        mlflow.log_params({"nsd_tolerance_mm": params.nsd_tolerance_mm, "seed": params.seed,
                           "bootstrap_samples": params.bootstrap_samples, "plan": out["settings"]["plan"],
                           **{f"{n}_sha256": m["sha256"] for n, m in out["models"].items()}})
        flat = {"seconds": seconds, "releasable": float(out["release_status"] == "releasable"),
                "test_cases": out["test_split"]["cases"],
                "external_cases": (out.get("external_split") or {}).get("cases", 0)}
        for model, estimates in out["summary"].items():
            for metric, est in estimates.items():
                for key in ("mean", "ci_lower", "ci_upper"):
                    if est[key] is not None:
                        flat[f"{model}.{metric}.{key}"] = est[key]
        for cid, result in out["criteria"].items():
            flat[f"criterion.{cid}"] = STATUS_CODE[result["status"]]
        mlflow.log_metrics(flat)
        mlflow.set_tag("release_status", out["release_status"])
        mlflow.log_artifact(metrics_path)
        mlflow.log_artifacts(str(paths.out_dir), artifact_path="vnv")
