"""The V&V plan as validated data: ``verification/criteria.yaml``.

The file is a mapping. Its ``criteria`` key lists the acceptance criteria
(``pipeline.design.items.AcceptanceCriterion``, also read by the trace graph); the other keys
are the plan's settings that the verify stage needs: the age bands subgroups are cut into
and the release policy for inconclusive results.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from pipeline.design.items import AcceptanceCriterion
from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml
from pipeline.core.params_base import StrictModel
from pipeline.verify.metrics import METRICS

EXPLAIN_METRICS = ("attribution_mass_in_region",)  # Grad-CAM on the teacher
# compressed vs teacher, per case (pipeline.verify.stage._add_paired)
PAIRED_METRICS = ("dice_drop_vs_teacher", "speedup_vs_teacher", "size_reduction_vs_teacher")
# on perturbed copies of the test cases (``perturbation:``; pipeline.verify.robustness_stage): the
# perturbed Dice and, per case, the unperturbed Dice minus the perturbed one
PERTURBED_METRICS = ("dice", "dice_drop_vs_clean")
# estimated over two groups of cases, not a mean over cases (pipeline.verify.membership_stage)
POPULATION_METRICS = ("membership_auc",)
KNOWN_METRICS = (*METRICS, *EXPLAIN_METRICS, *PAIRED_METRICS, "dice_drop_vs_clean", *POPULATION_METRICS)


class ReleasePolicy(StrictModel):
    """How criterion results decide the release status."""

    inconclusive_blocks_release: bool
    rationale: str = Field(min_length=1)


class TestSplitPolicy(StrictModel):
    """How often a locked split may be evaluated before it must be refreshed."""

    max_evaluations: int = Field(ge=1, description="evaluations of one split (by its SHA-256) allowed")
    rationale: str = Field(min_length=1)


class VnvPlan(StrictModel):
    """The verification and validation plan of the released models."""

    title: str = Field(min_length=1)
    age_bands_years: list[int] = Field(min_length=2, description="band edges, [lo, hi) each")
    release_policy: ReleasePolicy
    test_split_policy: TestSplitPolicy
    criteria: list[AcceptanceCriterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "VnvPlan":
        edges = self.age_bands_years
        if any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
            raise ValueError(f"age_bands_years must be non-negative and increasing, got {edges}")
        seen: set[str] = set()
        for item in self.criteria:
            if item.id in seen:
                raise ValueError(f"duplicate criterion ID {item.id}")
            seen.add(item.id)
            if item.metric not in KNOWN_METRICS:
                raise ValueError(f"{item.id}: metric {item.metric!r} is not one of {list(KNOWN_METRICS)}")
            if item.metric in EXPLAIN_METRICS and item.models != ["teacher"]:
                raise ValueError(f"{item.id}: {item.metric} is computed on the teacher only "
                                 f"(Grad-CAM needs gradients), so models must be [teacher]")
            if item.class_name is not None and item.metric not in METRICS:
                raise ValueError(f"{item.id}: class {item.class_name!r} applies to the per-case segmentation "
                                 f"metrics {list(METRICS)}, not {item.metric}")
            if item.metric in PAIRED_METRICS and item.models != ["compressed"]:
                raise ValueError(f"{item.id}: {item.metric} compares the compressed model with "
                                 f"the teacher, so models must be [compressed]")
            _check_perturbed(item)
            _check_population(item)
        return self


def _check_perturbed(item: AcceptanceCriterion) -> None:
    """A criterion on perturbed cases: a perturbed metric, on the test split, overall, all classes."""
    if item.perturbation is None:
        if item.metric == "dice_drop_vs_clean":
            raise ValueError(f"{item.id}: dice_drop_vs_clean needs a perturbation "
                             f"(one of noise, intensity, blur, adversarial)")
        return
    if item.metric not in PERTURBED_METRICS:
        raise ValueError(f"{item.id}: perturbation {item.perturbation!r} applies to the metrics "
                         f"{list(PERTURBED_METRICS)}, not {item.metric}")
    if item.split != "test" or item.subgroup is not None or item.class_name is not None:
        raise ValueError(f"{item.id}: a perturbation is judged on the test split over all cases and the "
                         f"mean over the classes (no subgroup, no class)")


def _check_population(item: AcceptanceCriterion) -> None:
    """``membership_auc`` compares training cases with the test split: split test, nothing else."""
    if item.metric in POPULATION_METRICS and (item.split != "test" or item.subgroup is not None
                                              or item.class_name is not None):
        raise ValueError(f"{item.id}: {item.metric} compares the training split (members) with the test "
                         f"split (non-members): split must be test, with no subgroup and no class")


def load_plan(path: Path) -> VnvPlan:
    """Read and validate the V&V plan; ``UserError`` names each problem.

    Args:
        path: the plan YAML, e.g. ``verification/criteria.yaml``.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"V&V plan {path} not found")
    return validate_plan(load_yaml(path, "V&V plan"), str(path))


def validate_plan(data: object, source: str = "V&V plan") -> VnvPlan:
    """Validate an already parsed plan mapping.

    Args:
        data: the parsed YAML.
        source: the name used in error messages.
    """
    try:
        return VnvPlan.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source} is not valid ({exc.error_count()} problem(s)):"]
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "<top level>"
            lines.append(f"  {where}: {err['msg']}")
        raise UserError("\n".join(lines)) from None
