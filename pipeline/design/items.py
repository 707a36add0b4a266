"""One pydantic model per design-item kind; the same models validate files and feed templates.

Links are stored on the child and point at the parent (Doorstop style):
a requirement derives from user needs (or refines other requirements) and implements risk
controls; a hazard lists its risk controls; an acceptance criterion names the requirements
it verifies. Reverse links (e.g. "implemented by") are computed by the trace graph.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.design import ids
from pipeline.core.params_base import StrictModel

Text = Field(min_length=1)


class UserNeed(StrictModel):
    """A design input from the user's side (``URS-###``)."""

    id: str = Field(pattern=ids.URS)
    kind: Literal[
        "intended_use", "user", "environment", "performance", "data_protection",
        "transparency", "regulatory", "integrity",
    ]
    title: str = Field(min_length=1, max_length=120)
    text: str = Text
    rationale: str = Text


class SoftwareRequirement(StrictModel):
    """An IEC 62304 software requirement (``SRS-<AREA>-###``)."""

    id: str = Field(pattern=ids.SRS)
    title: str = Field(min_length=1, max_length=120)
    type: Literal["functional", "performance", "safety", "data", "security", "usability",
                  "regulatory"]
    text: str = Text
    rationale: str = Text
    derives_from: list[str] = Field(
        min_length=1, description="parent user needs (URS) or refined requirements (SRS)"
    )
    implements: list[str] = Field(default_factory=list, description="risk controls (RC)")


class RiskControl(StrictModel):
    """An ISO 14971 risk control measure (``RC-###``).

    The requirements implementing it link to it (``SoftwareRequirement.implements``); the
    verification of implementation is the verification of those requirements.
    """

    id: str = Field(pattern=ids.RC)
    title: str = Field(min_length=1, max_length=120)
    type: Literal["inherent_safety", "protective_measure", "information_for_safety"]
    description: str = Text
    effectiveness: str = Field(min_length=1, description="how effectiveness is verified")
    effectiveness_evidence: list[str] = Field(
        default_factory=list, description="SRS or VAL IDs whose results show effectiveness"
    )


class Hazard(StrictModel):
    """A row of the hazard register (``RISK-###``); risk levels are computed, never typed."""

    id: str = Field(pattern=ids.RISK)
    title: str = Field(min_length=1, max_length=120)
    hazard: str = Text
    sequence_of_events: str = Text
    hazardous_situation: str = Text
    harm: str = Text
    severity: int = Field(ge=1)
    probability: int = Field(ge=1)
    controls: list[str] = Field(default_factory=list, description="risk control IDs (RC)")
    residual_severity: int = Field(ge=1)
    residual_probability: int = Field(ge=1)
    benefit_risk: str = Field(
        default="", description="justification required when the residual risk is in ALARP"
    )
    probability_rationale: str = Field(
        default="", description="why the initial probability has its level (before any control)"
    )
    reduction_rationale: str = Field(
        default="", description="why the controls lower severity or probability to the residual "
                                "levels, naming the control and the evidence of its effect"
    )


class Subgroup(StrictModel):
    """A subgroup an acceptance criterion is evaluated on separately."""

    by: Literal["site", "manufacturer", "sex", "age_band"]
    min_size: int = Field(ge=1, description="below this many cases the result is INCONCLUSIVE")


class AcceptanceCriterion(StrictModel):
    """A V&V acceptance criterion (``VAL-###``) bound to the requirements it verifies."""

    id: str = Field(pattern=ids.VAL)
    title: str = Field(min_length=1, max_length=120)
    requirements: list[str] = Field(min_length=1)
    models: list[Literal["teacher", "compressed"]] = Field(min_length=1)
    split: Literal["test", "external", "val"] = Field(
        description="test: the locked test split (V&V of the released models); external: the "
                    "locked external split (sites and scanners no development case comes from); "
                    "val: the validation split, for requirements stated on it (it took part in "
                    "model selection, so it never stands in for the test split)")
    metric: str = Field(min_length=1)
    statistic: Literal["point", "ci95_lower", "ci95_upper"]
    comparison: Literal[">=", "<="]
    threshold: float
    subgroup: Subgroup | None = None
    rationale: str = Field(default="", description="why this metric, statistic and threshold")


def outgoing_links(item: StrictModel) -> list[str]:
    """Every ID an item points at, in field order (the trace graph's edges).

    Args:
        item: any design item model.
    """
    if isinstance(item, SoftwareRequirement):
        return [*item.derives_from, *item.implements]
    if isinstance(item, Hazard):
        return list(item.controls)
    if isinstance(item, RiskControl):
        return list(item.effectiveness_evidence)
    if isinstance(item, AcceptanceCriterion):
        return list(item.requirements)
    return []
