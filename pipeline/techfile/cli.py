"""``python -m pipeline techfile``: render the technical file and the release manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.params import load_params

STAGE = "techfile"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(STAGE, help="render the technical file (HTML, PDF, SBOM) and manifest")
    parser.add_argument("--root", default=".", help="repository root holding the recorded run")
    parser.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pipeline.techfile import stage  # heavy imports only once params are valid
    from pipeline.techfile.context import TechfilePaths

    params = load_params(Path(args.params))
    start = time.perf_counter()
    result = stage.run(params.techfile, TechfilePaths(Path(args.root)),
                       params.model_dump(mode="json"), pdf=not args.no_pdf)
    seconds = time.perf_counter() - start
    print(f"techfile: {result['html']}" + (f", {result['pdf']}" if result["pdf"] else "")
          + f"; manifest lists {result['files']} file(s); release status: {result['status']} "
          f"({seconds:.1f} s)")
    for reason in result["reasons"]:
        print(f"  not releasable: {reason}")
    if not args.no_mlflow:
        _log(params.techfile, result, seconds, Path(args.root))
    return 0


def _log(params, result: dict, seconds: float, root: Path) -> None:
    """The stage's MLflow run, like every stage's; its ID goes into no output, so that rendering
    twice stays byte-identical."""
    from pipeline.core.tracking import stage_run

    inputs = [str(p) for p in ("metrics/vnv.json", "release/models", "release/trace")]
    with stage_run(STAGE, inputs=inputs, root=root) as mlflow:
        mlflow.log_params({"release_status": result["status"], "pdf": bool(result["pdf"])})
        mlflow.log_metrics({"seconds": round(seconds, 2), "released_files": result["files"],
                            "releasable": float(result["status"] == "releasable")})
        mlflow.log_artifact(str(root / params.manifest))
