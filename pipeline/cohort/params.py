"""The ``cohort`` section of ``params.yaml``: the synthetic multi-site default data set."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel


class SiteParams(StrictModel):
    """One hospital site: its scanner and acquisition protocol."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    institution: str = Field(min_length=1, max_length=64)
    manufacturer: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=64)
    pixel_spacing_mm: float = Field(gt=0.2, le=3.0)
    slice_thickness_mm: float = Field(gt=0.3, le=8.0)
    rows: int = Field(ge=16, le=512)
    columns: int = Field(ge=16, le=512)
    slices: int = Field(ge=8, le=512)
    noise_hu: float = Field(ge=0.0, le=200.0)
    slice_order: Literal["feet_first", "head_first"] = "head_first"


class ExternalCohortParams(StrictModel):
    """A held-out external cohort: sites and scanners no development case comes from.

    Generated from its own seed, so that its patients stay the same when the development cohort
    changes, and split off whole by ``preprocess.splits.external_sites`` (only V&V reads it).
    """

    seed: int = Field(ge=0)
    patients_per_site: int = Field(ge=1, le=500)
    sites: list[SiteParams] = Field(min_length=1, max_length=32)


class CohortParams(StrictModel):
    """How many patients, from which sites, with which seed."""

    seed: int = Field(ge=0)
    patients_per_site: int = Field(ge=1, le=500)
    followup_every: int = Field(
        ge=0, description="every Nth patient has a second (follow-up) study; 0 for none"
    )
    dose_report_every: int = Field(
        ge=0, description="every Nth patient has a dose-report series with burned-in text; 0 for none"
    )
    sites: list[SiteParams] = Field(min_length=1, max_length=32)
    external: ExternalCohortParams | None = Field(
        default=None, description="a held-out external test cohort (its own seed and sites); null for none")
    workers: int = Field(1, ge=1, le=64, description="processes; the output is byte-identical for any number")

    @model_validator(mode="after")
    def _unique_site_names(self) -> "CohortParams":
        external = self.external.sites if self.external else []
        names = [site.name for site in [*self.sites, *external]]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be unique (external sites included), got {names}")
        shared = sorted({s.institution for s in external} & {s.institution for s in self.sites})
        if shared:  # cases are told apart by InstitutionName: a shared one would mix the splits
            raise ValueError(f"external sites must not share an institution with a development site: {shared}")
        return self
