"""The technical file's typed view: every name the templates read, with its type.

``context.gather`` builds one ``TechfileView``; the templates get its fields as their top-level
names (``TechfileView.context``). A name the templates need but ``gather`` did not set, or one it
set under a misspelt name, fails when the view is built (pydantic: missing or extra field), not
as a blank in a rendered document. The recorded runs' parts are the records' own models (the
V&V results, the compression and training metrics, the data fingerprint, the change report), so
a template reads attributes the record model declares.

Still plain mappings (typed as such): the rows the helpers of ``documents``, ``lifecycle``,
``pms``, ``riskfile`` and ``performance`` build, and the splits view (``inputs.load_splits``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.cohort.record import CohortSummary
from pipeline.compress.record import CompressMetrics
from pipeline.deid.record import DeidReport
from pipeline.design.load import DesignSet
from pipeline.export.record import ExportMetrics
from pipeline.governance.changes import ChangeReport
from pipeline.preprocess.records import Fingerprint
from pipeline.train.record import TrainMetrics
from pipeline.trace.gates import Problem
from pipeline.trace.graph import Trace
from pipeline.trace.stages import Stage
from pipeline.verify.record import LockedSplit, VnvRecord

Rows = list[tuple[str, str]]  # (dotted key, value as text): a record shown as recorded (inputs.flatten)


class _View(BaseModel):
    """No other field, no coercion, frozen; design items and the trace as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)


class Product(_View):
    """The device as the documents name it (``techfile`` params and ``pyproject.toml``)."""

    name: str
    manufacturer: str
    version: str  # the software version
    package: str
    versions: dict[str, Any]  # models.versions: software, each model file's version, missing files


class BuildIdentity(_View):
    """What the release was rendered from (``release.build_identity``)."""

    commit: str
    date: str
    day: str
    draft: bool
    changed_files: list[str]
    dvc_lock_sha256: str


class ReleaseStatus(_View):
    """The overall status and every reason that blocks it (``release.release_status``)."""

    status: str
    releasable: bool
    vnv_status: str
    failed_criteria: list[str]
    trace_problems: list[dict[str, Any]]
    reasons: list[str]


class SbomSummary(_View):
    """The SBOM written beside the technical file, as the SOUP section cites it."""

    file: str
    components: int
    serial: str
    spec: str
    hashed: int
    models: int
    hash_bases: list[str]


class TestCounts(_View):
    """Tests by status in the test report."""

    __test__ = False  # not a pytest class

    passed: int
    failed: int
    skipped: int
    missing: int


class Safety(_View):
    """The IEC 62304 software safety class and the severity that sets it."""

    severity: int              # the level; the plan names it
    software_class: str
    rule: dict[str, str]       # the plan's severity name -> class, lowest first
    risks: list[str]


class Environment(_View):
    """The interpreter and the locked SOUP the release was built with."""

    python: str
    lock_sha256: str
    lock_file: str
    packages: int


class TechfileView(_View):
    """Everything the technical file's templates read (see the module docstring)."""

    # the product and the release
    product: Product
    build: BuildIdentity
    release: ReleaseStatus
    sbom_document: dict[str, Any]  # the CycloneDX document (written as it is)
    sbom: SbomSummary | None = None  # set by the stage once the SBOM file name is known
    released: list[dict[str, Any]]
    released_groups: list[dict[str, Any]]
    runs: dict[str, str]  # stage -> MLflow run ID
    environment: Environment
    governance: dict[str, Any]  # governance.views.approvals_view
    changes: ChangeReport | None  # release diff's report, when one was written
    # design, trace and gates
    design: DesignSet
    trace: Trace
    problems: list[Problem]
    flags: dict[str, list[str]]
    stages: dict[str, Stage]
    data_flow: list[Any]
    architecture_svg: str
    tests: dict[str, list[Any]]
    test_counts: TestCounts
    safety: Safety
    section_titles: dict[str, str]
    # recorded results: the records' own models
    vnv: VnvRecord
    criteria_status: dict[str, str]
    locked_splits: dict[str, LockedSplit]
    model_checks: list[dict[str, Any]]
    criterion_rows: list[dict[str, Any]]
    subgroup_rows: list[dict[str, Any]]
    class_rows: list[dict[str, Any]]  # per foreground class (more than one class only; performance.class_rows)
    evidence: list[dict[str, Any]]
    train: TrainMetrics
    compress: CompressMetrics
    export: ExportMetrics
    deid: DeidReport | None      # None: the stage is not part of this run (a data profile's own data)
    cohort: CohortSummary | None
    fingerprint: Fingerprint
    splits: dict[str, Any]  # inputs.load_splits: the record with overlaps and strata
    provenance: dict[str, Any]
    group_labels: dict[str, dict[str, str]]
    curve_svg: str
    # records shown as recorded
    config: dict[str, Rows]  # params.yaml by section
    flat: dict[str, Rows | None]  # train, export, deid, cohort (None: its stage is not part of this run)
    vnv_extra: dict[str, Rows]
    # the documents built from data files and the evidence
    soup: list[dict[str, Any]]
    soup_audit: dict[str, Any] | None  # soup.audit_view: the vulnerability audit and evaluations
    risk_rows: list[dict[str, Any]]
    matrix_before: list[dict[str, Any]]
    matrix_after: list[dict[str, Any]]
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    control_rows: list[dict[str, Any]]
    mdr_index: list[dict[str, Any]]
    clauses: list[dict[str, Any]]
    pccp: list[dict[str, Any]]
    gspr: list[dict[str, Any]]
    annex_iv: list[dict[str, Any]]
    threats: list[dict[str, Any]]
    pms: dict[str, Any]
    lifecycle: dict[str, Any]
    open_items: list[dict[str, Any]]
    open_counts: dict[str, int]  # total, manufacturer input, gap

    def context(self) -> dict[str, Any]:
        """The templates' top-level names: each field as it is (the models, not a dump of them)."""
        return {name: getattr(self, name) for name in type(self).model_fields}
