"""The verify stage's records: the V&V results (``metrics/vnv.json``) and the locked-split log
(``verification/test_split_log.json``).

``metrics/vnv.json`` is read by the trace site and gates (``pipeline.trace.results``), release
governance (``pipeline.governance.snapshot``) and the technical file; the log by the verify
stage itself (each run appends to it) and, through ``vnv.json``'s split histories, by all of them.
This module imports nothing heavy: the readers of ``vnv.json`` do not load ONNX or numpy for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.params_base import StrictModel
from pipeline.core.records import RecordModel, load_record
from pipeline.design.items import Subgroup

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"]  # pipeline.verify.criteria
ReleaseStatus = Literal["releasable", "not releasable"]


class Evaluation(StrictModel):
    """One evaluation of a locked split."""

    split: str = Field(description="the split's name, e.g. test")
    split_sha256: str = Field(description="content identity of the split's cases (``split_identity``)")
    git_commit: str
    models: dict[str, str | None] = Field(description="model name -> SHA-256 of the evaluated file")
    release_status: str
    failed: list[str] = Field(default_factory=list)
    source: str = Field(default="verify stage", description="who recorded it")
    model_versions: dict[str, str] | None = Field(
        default=None, description="model name -> SHA-256 of the file without provenance metadata (model_version)")
    look: str | None = Field(default=None, description="what the evaluation showed (look_key); None: a look of its own")


class EvaluationLog(StrictModel):
    """Every recorded evaluation, oldest first."""

    evaluations: list[Evaluation] = Field(default_factory=list)

    def of_split(self, split_sha256: str, split: str = "test") -> list[Evaluation]:
        """The evaluations of one split (identified by ``split_identity``)."""
        return [e for e in self.evaluations if e.split_sha256 == split_sha256 and e.split == split]


class Estimate(RecordModel):
    """A mean with its percentile bootstrap interval (``pipeline.core.bootstrap``; NaN recorded as None)."""

    mean: float | None
    ci_lower: float | None
    ci_upper: float | None
    n: int  # cases with a defined value
    n_clusters: int  # patients
    level: float
    samples: int
    seed: int


class Judged(RecordModel):
    """What every comparison of a criterion records: the statistic, the threshold and the outcome."""

    status: Status
    threshold: float
    comparison: Literal[">=", "<="]
    statistic: Literal["point", "ci95_lower", "ci95_upper"]
    value: float | None  # None: no defined value (or no model)
    reason: str


class Compared(Judged):
    """A criterion on one set of cases; ``estimate`` None when the model was not released."""

    estimate: Estimate | None


class LevelResult(Compared):
    """A criterion on one subgroup level."""

    n_cases: int


class BySubgroup(Judged):
    """A criterion judged per subgroup level (``value``: the worst level's)."""

    subgroups: dict[str, LevelResult]  # level (site name, age band, ...) -> its result


class CriterionResult(RecordModel):
    """One acceptance criterion as the plan states it, its overall status, and each model's result."""

    id: str
    title: str
    requirements: list[str]
    split: Literal["test", "external", "val"]
    metric: str
    class_name: str | None = None  # the class of the label map judged; None: the mean over the foreground classes
    perturbation: str | None = None  # judged on perturbed test cases (robustness); None: the cases as they are
    statistic: Literal["point", "ci95_lower", "ci95_upper"]
    comparison: Literal[">=", "<="]
    threshold: float
    subgroup: Subgroup | None
    rationale: str
    status: Status
    models: dict[str, Compared | BySubgroup]  # model name -> its result


class VerifiedModel(RecordModel):
    """A released file as V&V evaluated it."""

    path: str  # relative to the repository root
    sha256: str
    model_version: str
    runtime: str
    runtime_version: str
    bytes: int


class LockedSplit(RecordModel):
    """A locked split: its identity and every evaluation of it so far, this one included."""

    cases: int
    splits_sha256: str
    content_sha256: str  # pipeline.verify.evaluations.split_identity
    locked: bool
    evaluations: int  # runs
    looks: int  # runs that showed something new (what the plan's policy limits)
    max_evaluations: int
    history: list[Evaluation]
    patients: int
    sites: list[str]
    case_sha256: dict[str, str]  # case ID -> SHA-256 of its cached arrays


class OtherSplit(RecordModel):
    """A non-locked split that criteria are judged on (``val``, or the external split's rows)."""

    cases: int
    models: list[str]


class Summary(RecordModel):
    """Every metric of ``pipeline.verify.metrics.METRICS`` over a set of cases."""

    dice: Estimate
    hd95_mm: Estimate
    nsd: Estimate
    sensitivity: Estimate
    specificity: Estimate
    abs_volume_error_ml: Estimate


class LevelSummary(Summary):
    """The metrics of one subgroup level."""

    n_cases: int


class WorstCase(RecordModel):
    """One of the lowest-Dice cases of a model (NaN recorded as None)."""

    case_id: str
    site: str | None
    manufacturer: str | None
    dice: float | None
    hd95_mm: float | None
    nsd: float | None
    abs_volume_error_ml: float | None


class EvidenceImage(RecordModel):
    """An explanation image of a representative test case (``pipeline.verify.explain_stage``)."""

    path: str  # relative to the repository root
    file: str
    sha256: str
    caption: str
    case_id: str
    roles: list[str]  # best, median, worst
    requirements: list[str]
    risks: list[str]
    criteria_metric: str
    slices: list[int]
    explained_region: str
    cam_method: Literal["hirescam", "gradcam"]
    attribution_mass_in_region: float | None
    occlusion_mass_in_region: float | None
    # the sanity metric of the Grad-CAM variant not shown (one of the two, named by the variant)
    gradcam_mass_in_region: float | None = None
    hirescam_mass_in_region: float | None = None
    dice: float
    hd95_mm: float
    target_layer: str
    dilation_mm: float
    explained_class: str | None = None  # more than one foreground class: the class explained (class 1)
    teacher_weights_sha256: str
    weights_checked_against_onnx: bool


class ReleasePolicy(RecordModel):
    """The plan's release policy as applied (``pipeline.verify.plan.ReleasePolicy``)."""

    inconclusive_blocks_release: bool
    rationale: str


class PerturbedEstimates(RecordModel):
    """One model on one perturbation: the perturbed Dice and the paired drop from the unperturbed Dice."""

    dice: Estimate
    dice_drop_vs_clean: Estimate


class Perturbation(RecordModel):
    """A perturbation of the test cases (``pipeline.verify.robustness_stage``): its parameters (in
    normalised intensity units, with ``*_hu`` beside them for a CT window) and each model's results."""

    parameters: dict[str, float | int]
    models: dict[str, PerturbedEstimates]


class MembershipResult(RecordModel):
    """The loss-threshold membership-inference attack on one model (``pipeline.verify.membership_stage``)."""

    auc: Estimate  # mean: the attack AUC (0.5 chance); interval over patients resampled within each group
    members: int
    nonmembers: int
    members_scored: int
    nonmembers_scored: int
    member_mean_loss: float | None
    nonmember_mean_loss: float | None
    loss_gap: float | None  # non-member minus member mean loss
    member_split: str
    nonmember_split: str
    score: str
    reason: str  # why the AUC was not estimated; empty when it was


class Settings(RecordModel):
    """What the results were computed with."""

    nsd_tolerance_mm: float
    bootstrap_samples: int
    seed: int
    ci_level: float
    plan: str
    release_policy: ReleasePolicy
    robustness: dict | None = None  # verify.robustness as run
    membership: dict | None = None  # verify.membership as run


class VnvRecord(RecordModel):
    """``metrics/vnv.json``: the criteria results and release status, the models verified, the
    locked splits' identities and histories, summaries, subgroups, worst cases, evidence, robustness
    to perturbed inputs and the membership-inference assessment."""

    release_status: ReleaseStatus
    criteria: dict[str, CriterionResult]  # criterion ID -> result
    failed: list[str]
    inconclusive: list[str]
    passed: list[str]
    models: dict[str, VerifiedModel]  # "teacher" / "compressed" -> the file verified
    absent_models: dict[str, str]  # model name -> why the release does not hold it
    test_split: LockedSplit
    external_split: LockedSplit | None
    other_splits: dict[str, OtherSplit]
    classes: list[str] = []  # the released label map's foreground classes (class 1..N)
    summary: dict[str, Summary]  # model name -> metrics on the test split (more classes: their mean)
    summary_per_class: dict[str, dict[str, Summary]] = {}  # model -> class -> metrics (more than one class only)
    external_summary: dict[str, Summary]  # model name -> metrics on the external split (none: empty)
    subgroups: dict[str, dict[str, dict[str, LevelSummary]]]  # model -> attribute -> level -> metrics
    worst_cases: dict[str, list[WorstCase]]  # model name -> its worst cases
    evidence: list[EvidenceImage]
    robustness: dict[str, Perturbation] = {}  # perturbation name -> parameters and results (those the plan names)
    membership: dict[str, MembershipResult] = {}  # model name -> membership-inference result
    settings: Settings


def load_vnv(path: Path) -> VnvRecord:
    """Parse ``metrics/vnv.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, VnvRecord, "V&V results", "verify")


def load_test_split_log(path: Path) -> EvaluationLog:
    """Parse ``verification/test_split_log.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, EvaluationLog, "locked-split evaluation log", "verify")
