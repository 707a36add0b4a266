"""The change report of ``release diff``: its record model, writer and reader.

``release/changes/changes.json`` (and a self-contained ``index.html`` beside it) is written by
``release diff REV`` and read by the traceability site and the technical file. Like a stage
record (``pipeline.core.records``), it is checked against its model before it is written (the
bytes are the report's own ``dumps_json``) and parsed through the model by every reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import jinja2
from pydantic import ConfigDict, Field, ValidationError

from pipeline.core.atomic import atomic_dir, dumps_json
from pipeline.core.errors import UserError
from pipeline.core.records import RecordModel, check_record, problems
from pipeline.governance.classify import Classification
from pipeline.verify.record import Status

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "governance"
JSON_NAME = "changes.json"
HTML_NAME = "index.html"
WHAT = "change report"
ItemArea = Literal["user_need", "requirement", "risk", "control", "criterion"]  # snapshot.DESIGN
ValueArea = Literal["output", "soup", "params"]
Verdict = Literal["new submission needed", "within the PCCP", "no change of regulatory impact"]


class FieldChange(RecordModel):
    """One changed field of a design item: its text before and after, as lines and as words."""

    field: str
    before: str
    after: str
    diff: list[str]  # unified-diff lines without the header
    words: list[tuple[Literal[" ", "-", "+"], str]]  # (op, word) of a word diff


class _Change(RecordModel):
    """What every change has: what it is, and how the rules classified it (``classify``)."""

    id: str
    action: Literal["added", "removed", "changed"]
    title: str
    fields: list[FieldChange]
    classification: Classification
    modification: str | None
    why: str
    rule: int | None  # 1-based index of the rule that matched; None: no rule covers it


class ItemChange(_Change):
    """A design item added, removed or changed (per field)."""

    area: ItemArea
    file: str  # the design file that holds the item


class ModelDelta(RecordModel):
    """One model's result of an acceptance criterion before and after."""

    model: str
    status_before: Status | None
    status_after: Status | None
    value_before: float | None
    value_after: float | None
    delta: float | None


class ResultChange(_Change):
    """An acceptance criterion's recorded result (``metrics/vnv.json``) that changed."""

    area: Literal["result"]
    status_before: Status | None
    now_status: Status | None
    models: list[ModelDelta]


class ValueChange(_Change):
    """An output hash, SOUP version or parameter: its value as text (``None``: absent)."""

    area: ValueArea
    before: str | None
    after: str | None


Change = Annotated[ItemChange | ResultChange | ValueChange, Field(discriminator="area")]


class Revision(RecordModel):
    """The previous release: the revision as given, its commit and commit date."""

    rev: str
    commit: str
    date: str


class Current(RecordModel):
    """The release compared (always the working tree)."""

    commit: str  # "not a git checkout" outside git
    working_tree: bool


class ChangeSummary(RecordModel):
    """Counts by classification and by area, and the verdict."""

    changes: int
    new_submission: int
    within_pccp: int
    documentation_only: int
    by_area: dict[str, int]
    verdict: Verdict


class ChangeReport(RecordModel):
    """``release/changes/changes.json``: every change since a previous release, classified."""

    model_config = ConfigDict(serialize_by_alias=True)

    from_: Revision = Field(alias="from")
    to: Current
    criteria_pass: bool  # every acceptance criterion of the current release passes
    notes: list[str]  # why results were not compared, when they were not
    summary: ChangeSummary
    areas: dict[str, str]  # area -> title, in the order the documents show them
    changes: list[Change]


def write_report(report: dict, out: Path, templates: Path = TEMPLATES) -> None:
    """Replace ``out`` with the report's JSON and HTML (atomically).

    Args:
        report: from ``diff.diff_release`` (checked against ``ChangeReport`` first).
        out: the folder (``release/changes``).
        templates: the template folder.
    """
    check_record(report, ChangeReport, WHAT)
    html = render_html(report, templates)
    with atomic_dir(Path(out), shared=True) as tmp:  # under release/: the shared file modes
        (tmp / JSON_NAME).write_text(dumps_json(report), encoding="utf-8")
        (tmp / HTML_NAME).write_text(html, encoding="utf-8")


def render_html(report: dict, templates: Path = TEMPLATES) -> str:
    """The change report page (``StrictUndefined``: a missing value fails, it never prints blank)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    try:
        return env.get_template("changes.html").render(report=report)
    except jinja2.UndefinedError as exc:
        raise UserError(f"change report template needs a value the report lacks: {exc.message}") from None


def load_change_report(folder: Path) -> ChangeReport | None:
    """The report in ``folder`` (``release/changes``) parsed through ``ChangeReport``; ``None`` when
    ``release diff`` has not written one, a ``UserError`` naming the file and each bad field when
    the file is not a valid report."""
    path = Path(folder) / JSON_NAME
    if not path.is_file():
        return None
    try:
        return ChangeReport.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise UserError(f"{path} is not a valid {WHAT} ({ChangeReport.__name__}) of this pipeline version: "
                        f"{problems(exc)}; run `python -m pipeline release diff REV` again") from None
