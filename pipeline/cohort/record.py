"""The cohort summary (``metrics/cohort.json``): counts of what the cohort stage generated, no PHI.

Written by the cohort stage, read by the technical file (data description).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.records import RecordModel, load_record


class CohortSummary(RecordModel):
    """Patients, studies and files generated, how they spread over sites, scanners and sexes."""

    patients: int
    studies: int
    files: int
    dose_report_series: int  # studies with a dose screen (burned-in text: de-identification quarantines it)
    patients_per_site: dict[str, int]  # site name -> patients
    patients_per_manufacturer: dict[str, int]
    patients_per_sex: dict[str, int]
    age_min: int
    age_max: int
    lesion_ml_min: float
    lesion_ml_median: float
    lesion_ml_max: float
    seed: int
    external_sites: list[str]  # sites of the external cohort (none: empty)
    external_seed: int | None


def load_cohort_summary(path: Path) -> CohortSummary:
    """Parse ``metrics/cohort.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, CohortSummary, "cohort summary", "cohort")
