"""Write the change report: ``release/changes/changes.json`` and a self-contained ``index.html``."""

from __future__ import annotations

from pathlib import Path

import jinja2

from pipeline.core.atomic import atomic_dir, dumps_json
from pipeline.core.errors import UserError

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "governance"
JSON_NAME = "changes.json"
HTML_NAME = "index.html"


def write_report(report: dict, out: Path, templates: Path = TEMPLATES) -> None:
    """Replace ``out`` with the report's JSON and HTML (atomically).

    Args:
        report: from ``diff.diff_release``.
        out: the folder (``release/changes``).
        templates: the template folder.
    """
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


def load_report(folder: Path) -> dict | None:
    """A written report's JSON, ``None`` when ``release diff`` has not written one."""
    import json

    path = Path(folder) / JSON_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}; run `python -m pipeline release diff REV` "
                        "again") from None
