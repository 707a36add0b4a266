"""The ``paths`` section of ``params.yaml``: every file and folder one stage hands to another.

This is the one place these strings live. ``dvc.yaml`` reads them through DVC's templating
(``${paths.cache}``), the stage commands through this model (``params.paths.cache``), and the
readers of ``dvc.yaml`` outside DVC (the trace graph, the privacy check) resolve the same
templating (``pipeline.core.dvc_yaml``). Paths are relative to the repository root.

Moving an output is one edit here; DVC then sees the stage's command or outputs change and
runs it again.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel

Rel = Field(min_length=1, pattern=r"^[^/~$].*", description="relative to the repository root")


class Paths(StrictModel):
    """Stage outputs (and the test report the release cites), by name; no defaults: the values
    are ``params.yaml``'s, so that ``dvc.yaml`` and the code can never disagree."""

    metrics: str = Rel             # the folder of every stage's metrics file (the technical file's input)
    raw: str = Rel                 # cohort: the identified synthetic DICOM cohort (never pushed)
    cohort_metrics: str = Rel      # cohort: counts, no PHI
    deid: str = Rel                # deid: the de-identified DICOM
    deid_quarantine: str = Rel     # deid: files refused, as they came (identified; never pushed)
    deid_metrics: str = Rel        # deid: the report (counts only)
    cache: str = Rel               # preprocess: the hashed .npz cache
    splits: str = Rel              # preprocess: patient-level splits
    fingerprint: str = Rel         # preprocess: the data-set fingerprint
    teacher: str = Rel             # train: the teacher checkpoint
    train_metrics: str = Rel       # train
    train_curve: str = Rel         # train: per-epoch CSV (DVC plot)
    candidates: str = Rel          # compress: the candidates' checkpoints
    choice: str = Rel              # compress: the compression record export reads
    compress_metrics: str = Rel    # compress
    models: str = Rel              # export: the released ONNX files
    export_metrics: str = Rel      # export
    vnv_reports: str = Rel         # verify: per-case CSVs and explanation images
    vnv_metrics: str = Rel         # verify: criteria results, summaries, models verified
    test_split_log: str = Rel      # verify: every evaluation of the locked splits (tracked in git)
    junit: str = Rel               # make test: the test report the trace and technical file cite
    trace_site: str = Rel          # trace: the auditors' site
    trace_metrics: str = Rel       # trace: the gate summary
    release: str = Rel             # every file under it is listed in the manifest
    techfile: str = Rel            # techfile: HTML book, PDF, SBOM
    manifest: str = Rel            # techfile: SHA-256 of every released file

    @model_validator(mode="after")
    def _metrics_inside(self) -> "Paths":
        """The technical file depends on the metrics folder as a whole, so that a data profile that
        skips stages (their metrics absent) still runs; a metrics file elsewhere would escape it."""
        folder = PurePosixPath(self.metrics)
        outside = [name for name in METRICS_FILES if folder not in PurePosixPath(getattr(self, name)).parents]
        if outside:
            raise ValueError(f"{', '.join(f'paths.{name}' for name in outside)} must lie inside "
                             f"paths.metrics = {self.metrics!r}")
        return self


# the stage metrics files: all inside ``paths.metrics``
METRICS_FILES = ("cohort_metrics", "deid_metrics", "fingerprint", "train_metrics", "train_curve",
                 "compress_metrics", "export_metrics", "vnv_metrics", "trace_metrics")
