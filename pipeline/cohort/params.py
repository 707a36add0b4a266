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

    @model_validator(mode="after")
    def _unique_site_names(self) -> "CohortParams":
        names = [site.name for site in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be unique, got {names}")
        return self
