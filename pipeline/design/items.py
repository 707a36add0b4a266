"""One pydantic model per design-item kind; the same models validate files and feed templates.

Links are stored on the child and point at the parent (Doorstop style):
a requirement derives from user needs (or refines other requirements) and implements risk
controls; a hazard lists its risk controls; an acceptance criterion names the requirements
it verifies. Reverse links (e.g. "implemented by") are computed by the trace graph.

Every item that has a category calls it ``kind`` (user needs, software requirements, risk
controls, like the open items). A hazard's severity and probability are written as the risk
plan's names (``severity: critical``) and held as the plan's levels, which the matrix reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_serializer
from pydantic_core import PydanticCustomError

from pipeline.design import ids
from pipeline.design.risk_plan import RiskPlan
from pipeline.core.params_base import StrictModel

Text = Field(min_length=1)
PLAN = "plan"  # the validation context key of the risk plan a hazard's levels are named in


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
    kind: Literal["functional", "performance", "safety", "data", "security", "usability",
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
    kind: Literal["inherent_safety", "protective_measure", "information_for_safety"]
    description: str = Text
    effectiveness: str = Field(min_length=1, description="how effectiveness is verified")
    effectiveness_evidence: list[str] = Field(
        default_factory=list, description="SRS or VAL IDs whose results show effectiveness"
    )


class Hazard(StrictModel):
    """A row of the hazard register (``RISK-###``); risk levels are computed, never typed.

    ``severity``, ``probability`` and their residual values are written as names of the risk
    plan's scales (``severity: critical``, ``probability: improbable``) and held as the plan's
    levels (``4``, ``1``), which ``RiskPlan.region`` and the documents read. A hazard is therefore
    validated with its plan: ``Hazard.model_validate(row, context={"plan": plan})``
    (``load_design`` does); a number or an unknown name is an error naming the allowed names.
    Its dump holds the levels (what a review fingerprint hashes), not the file's names.
    """

    id: str = Field(pattern=ids.RISK)
    title: str = Field(min_length=1, max_length=120)
    hazard: str = Text
    sequence_of_events: str = Text
    hazardous_situation: str = Text
    harm: str = Text
    severity: int = Field(ge=1, description="severity level, written as the plan's name")
    probability: int = Field(ge=1, description="probability level, written as the plan's name")
    controls: list[str] = Field(default_factory=list, description="risk control IDs (RC)")
    residual_severity: int = Field(ge=1, description="severity after the controls (by name)")
    residual_probability: int = Field(ge=1, description="probability after the controls (by name)")
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

    @field_validator("severity", "probability", "residual_severity", "residual_probability",
                     mode="before")
    @classmethod
    def _level_of_name(cls, value: Any, info: ValidationInfo) -> Any:
        scale = "severity" if info.field_name.endswith("severity") else "probability"
        plan = (info.context or {}).get(PLAN)
        if not isinstance(plan, RiskPlan):
            raise PydanticCustomError(
                "risk_plan_missing", "the {scale} is a name of the risk plan's scale: validate the "
                "hazard with the plan as context (pipeline.design.load does)", {"scale": scale})
        if isinstance(value, str) and value in plan.names(scale):
            return plan.level_of(scale, value)
        raise PydanticCustomError(
            "risk_plan_name", "{value} is not a {scale} of the risk plan (risk/plan.yaml); write "
            "one of its names: {allowed}", {"value": repr(value), "scale": scale,
                                            "allowed": ", ".join(plan.names(scale))})


class Subgroup(StrictModel):
    """A subgroup an acceptance criterion is evaluated on separately."""

    by: Literal["site", "manufacturer", "sex", "age_band"]
    min_size: int = Field(ge=1, description="below this many cases the result is INCONCLUSIVE")


# perturbed copies of test cases a criterion may be judged on (pipeline.verify.perturb, .adversarial)
Perturbation = Literal["noise", "intensity", "blur", "adversarial"]


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
    class_name: str | None = Field(
        default=None, alias="class", min_length=1,
        description="a foreground class of the model's label map (preprocess.source.classes): the metric "
                    "of that class; left out: the mean over the foreground classes (binary: the one class)")
    perturbation: Perturbation | None = Field(
        default=None, description="judge the metric on perturbed copies of the split's cases (the "
                                  "perturbation's parameters: verify.robustness in params.yaml); left "
                                  "out: the unperturbed cases")
    rationale: str = Field(default="", description="why this metric, statistic and threshold")

    @model_serializer(mode="wrap")
    def _without_unset_class(self, handler):
        # a criterion without a class (or perturbation) dumps as before the field existed: review
        # fingerprints and the locked split's look keys of existing criteria do not change
        data = handler(self)
        if self.class_name is None:
            data.pop("class_name", None)
            data.pop("class", None)
        if self.perturbation is None:
            data.pop("perturbation", None)
        return data


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
