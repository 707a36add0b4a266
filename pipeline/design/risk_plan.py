"""The ISO 14971 risk management plan as data: scales, acceptability matrix, residual policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel

Region = Literal["acceptable", "alarp", "unacceptable"]
Scale = Literal["severity", "probability"]


class ScaleLevel(StrictModel):
    """One level of a severity or probability scale."""

    level: int = Field(ge=1)
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)


class RiskPlan(StrictModel):
    """Severity and probability scales and the matrix that maps a pair to a region.

    ``matrix[s - 1][p - 1]`` is the region of severity level ``s`` and probability level ``p``.
    The hazard register names a level by its ``name`` (``severity: critical``); the code works
    with the ordinal ``level`` the matrix is indexed by (``level_of``).
    """

    scope: str = Field(min_length=1)
    severity: list[ScaleLevel] = Field(min_length=2)
    probability: list[ScaleLevel] = Field(min_length=2)
    regions: dict[Region, str] = Field(description="what each region means and requires")
    matrix: list[list[Region]]
    overall_residual_risk_policy: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "RiskPlan":
        for name, scale in (("severity", self.severity), ("probability", self.probability)):
            if [lv.level for lv in scale] != list(range(1, len(scale) + 1)):
                raise ValueError(f"{name} levels must be 1..{len(scale)} in order")
            names = [lv.name for lv in scale]
            if len(set(names)) != len(names):
                raise ValueError(f"{name} names must differ (the hazard register refers to a level "
                                 f"by its name): {', '.join(names)}")
        if len(self.matrix) != len(self.severity) or any(
            len(row) != len(self.probability) for row in self.matrix
        ):
            raise ValueError(
                f"matrix must have {len(self.severity)} rows (severity) of "
                f"{len(self.probability)} regions (probability)"
            )
        if set(self.regions) != {"acceptable", "alarp", "unacceptable"}:
            raise ValueError("regions must define acceptable, alarp and unacceptable")
        return self

    def region(self, severity: int, probability: int) -> Region:
        """The region of a (severity, probability) pair; ``ValueError`` when out of scale.

        Args:
            severity: severity level, 1-based.
            probability: probability level, 1-based.
        """
        if not 1 <= severity <= len(self.severity):
            raise ValueError(f"severity {severity} is outside 1..{len(self.severity)}")
        if not 1 <= probability <= len(self.probability):
            raise ValueError(f"probability {probability} is outside 1..{len(self.probability)}")
        return self.matrix[severity - 1][probability - 1]

    def names(self, scale: Scale) -> list[str]:
        """The names of a scale's levels, lowest level first."""
        return [lv.name for lv in getattr(self, scale)]

    def level_of(self, scale: Scale, name: str) -> int:
        """The level of a scale named ``name``; ``ValueError`` naming the allowed names.

        Args:
            scale: ``"severity"`` or ``"probability"``.
            name: a level's name, as the hazard register writes it (``critical``).
        """
        for lv in getattr(self, scale):
            if lv.name == name:
                return lv.level
        raise ValueError(f"{name!r} is not a {scale} of the risk plan; allowed: "
                         f"{', '.join(self.names(scale))}")

    def label(self, scale: Scale, level: int) -> str:
        """A level as the documents show it: its name and its level, ``critical (4)``."""
        return f"{getattr(self, scale)[level - 1].name} ({level})"

    def severity_name(self, level: int) -> str:
        """The name of a severity level."""
        return self.severity[level - 1].name

    def probability_name(self, level: int) -> str:
        """The name of a probability level."""
        return self.probability[level - 1].name
