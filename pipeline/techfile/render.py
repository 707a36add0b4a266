"""Render the technical file: Jinja2 (``StrictUndefined``, autoescape) to HTML, WeasyPrint to PDF."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import jinja2

from pipeline.core.errors import UserError
from pipeline.techfile.inputs import fmt

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "techfile"
BOOK = "book.html.j2"
REGION_CLASS = {"acceptable": "ok", "alarp": "warn", "unacceptable": "bad"}
STATUS_CLASS = {"PASS": "ok", "passed": "ok", "verified": "ok", "releasable": "ok",
                "FAIL": "bad", "failed": "bad", "not releasable": "bad", "error": "bad",
                "INCONCLUSIVE": "warn", "skipped": "warn", "missing": "warn", "suspect": "warn", "draft": "warn",
                "evidenced": "ok", "failing": "bad", "open": "warn", "manufacturer input": "warn",
                "gap": "warn", "warning": "warn", "not applicable": "na", "NOT APPLICABLE": "na"}


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    """The Jinja2 environment: strict undefined values, autoescaping, stable formatting filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["region_class"] = lambda region: REGION_CLASS[region]
    env.filters["status_class"] = lambda value: STATUS_CLASS.get(str(value), "")
    return env


def render_html(context: dict, templates: Path = TEMPLATES, template: str = BOOK) -> str:
    """The HTML book; a value the templates need but the context lacks is a ``UserError``.

    Args:
        context: from ``context.gather``.
        templates: the template folder.
        template: the page (the book by default).
    """
    try:
        return environment(templates).get_template(template).render(**context)
    except jinja2.UndefinedError as exc:
        raise UserError(f"technical file template needs a value the recorded run does not "
                        f"provide: {exc.message}") from None


# The "modified" time written into every embedded font subset when the environment names none.
# WeasyPrint subsets fonts with HarfBuzz-Subset when that library loads and with fontTools when it
# does not (it failed to load in a CI worker of 2026-11-28 though the system has it); fontTools
# stamps each subset with the time of rendering unless SOURCE_DATE_EPOCH is set
# (reproducible-builds.org), so two renders of the same book gave PDFs that differed in six font
# headers. With a fixed epoch the PDF is the same bytes on either path.
DEFAULT_SOURCE_DATE_EPOCH = "0"


@contextlib.contextmanager
def source_date_epoch():
    """``SOURCE_DATE_EPOCH`` set while rendering: the caller's own value when it has one (a build
    system's), else ``DEFAULT_SOURCE_DATE_EPOCH``; the environment as it was afterwards."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = before if before is not None else DEFAULT_SOURCE_DATE_EPOCH
    try:
        yield os.environ["SOURCE_DATE_EPOCH"]
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


def render_pdf(html: str, base: str, target: Path) -> None:
    """Write the PDF of ``html`` (no network: only inline assets and local fonts are used), the
    same bytes for the same book (``source_date_epoch``).

    Args:
        html: the rendered book.
        base: the URL relative links resolve against (a folder's URI ending in ``/``).
        target: the PDF file.
    """
    import weasyprint  # slow import, only when a PDF is written

    with source_date_epoch():
        weasyprint.HTML(string=html, base_url=base).write_pdf(str(target))
