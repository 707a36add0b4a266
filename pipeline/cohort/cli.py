"""``python -m pipeline cohort``: generate the synthetic default data set."""

from __future__ import annotations

from pipeline.command import Invocation, StageCommand
from pipeline.cohort.record import CohortSummary
from pipeline.core.records import write_record


def _run(inv: Invocation) -> dict:
    from pipeline.cohort import generate  # heavy imports only once params are valid

    summary = generate.run(inv.params.cohort, inv.paths.out)
    write_record(inv.paths.metrics, summary, CohortSummary, "cohort summary")  # no timing inside: same bytes
    return summary


def _log(inv: Invocation, summary: dict) -> None:
    params = inv.params.cohort
    inv.mlflow.log_params({"seed": params.seed, "patients_per_site": params.patients_per_site,
                           "sites": len(params.sites)})
    inv.mlflow.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})


COMMAND = StageCommand(
    name="cohort", help="generate the synthetic multi-site DICOM cohort",
    paths={"out": ("raw", "output folder (replaced atomically)"),
           "metrics": ("cohort_metrics", "summary JSON (no PHI)")},
    core=_run, log=_log,
    summary=lambda inv, s: (f"cohort: {s['patients']} patients, {s['studies']} studies, {s['files']} files in "
                            f"{inv.paths.out} ({inv.seconds} s)"))
register = COMMAND.register
