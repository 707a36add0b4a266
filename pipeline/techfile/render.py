"""Render the technical file: Jinja2 (``StrictUndefined``, autoescape) to HTML, WeasyPrint to PDF."""

from __future__ import annotations

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


def render_pdf(html: str, base: str, target: Path) -> None:
    """Write the PDF of ``html`` (no network: only inline assets and local fonts are used).

    Args:
        html: the rendered book.
        base: the URL relative links resolve against (a folder's URI ending in ``/``).
        target: the PDF file.
    """
    import weasyprint  # slow import, only when a PDF is written

    weasyprint.HTML(string=html, base_url=base).write_pdf(str(target))
