"""``python -m pipeline techfile``: render the technical file and the release manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.command import Invocation, StageCommand


def _run(inv: Invocation) -> dict:
    from pipeline.techfile import stage  # heavy imports only once params are valid
    from pipeline.techfile.context import TechfilePaths

    params = inv.params
    return stage.run(params.techfile, TechfilePaths(Path(inv.args.root), params.paths),
                     params.model_dump(mode="json"), pdf=not inv.args.no_pdf)


def _log(inv: Invocation, result: dict) -> None:
    """The stage's MLflow run, like every stage's; its ID goes into no output, so that rendering
    twice stays byte-identical."""
    inv.mlflow.log_params({"release_status": result["status"], "pdf": bool(result["pdf"])})
    inv.mlflow.log_metrics({"released_files": result["files"], "releasable": float(result["status"] == "releasable")})
    inv.mlflow.log_artifact(str(Path(inv.args.root) / inv.params.paths.manifest))


def _summary(inv: Invocation, result: dict) -> str:
    lines = [f"techfile: {result['html']}" + (f", {result['pdf']}" if result["pdf"] else "")
             + f"; manifest lists {result['files']} file(s); release status: {result['status']} ({inv.seconds} s)"]
    return "\n".join(lines + [f"  not releasable: {reason}" for reason in result["reasons"]])


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-pdf", action="store_true", help="write the HTML only")


COMMAND = StageCommand(
    name="techfile", help="render the technical file (HTML, PDF, SBOM) and manifest", paths={},
    recorded_inputs=lambda inv: [inv.params.paths.vnv_metrics, inv.params.paths.models, inv.params.paths.trace_site],
    core=_run, log=_log, summary=_summary, options=_options, root=True)
register = COMMAND.register
