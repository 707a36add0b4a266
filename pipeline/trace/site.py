"""``trace site``: render the static traceability site (works from ``file://``, no network).

Every page is rendered from ``templates/trace`` with ``StrictUndefined`` and autoescaping, so
a missing value fails the render and design text can never inject markup. CSS and the filter
script are inline; evidence images are copied into the site. The output is deterministic
(sorted, no timestamps) so the DVC stage's output hash changes only when its inputs do.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import jinja2

from pipeline.core import provenance
from pipeline.core.atomic import atomic_dir, dumps_json
from pipeline.core.records import check_record
from pipeline.governance.changes import load_change_report
from pipeline.governance.paths import CHANGES_NAME
from pipeline.governance.views import approvals_view
from pipeline.trace.gates import Problem
from pipeline.trace.graph import Trace
from pipeline.trace.pages import node_pages
from pipeline.trace.record import TraceSummary
from pipeline.trace.released import released_files
from pipeline.trace.site_view import View
from pipeline.trace.status import FLAGS, badges, node_flags

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "trace"
SECTIONS = [("index.html", "Matrix"), ("risks.html", "Risks"), ("stages.html", "Stages"),
            ("verification.html", "Verification"), ("release.html", "Released files"),
            ("problems.html", "Problems"), ("approvals.html", "Approvals")]
REPORTS = "reports"  # copies of the test report and the V&V results inside the site
CHANGES_PAGE = "../changes/index.html"  # written by `release diff REV` beside the site


def summary(trace: Trace, problems: list[Problem]) -> dict[str, Any]:
    """Release status and counts (the trace stage's DVC metrics, read by the technical file)."""
    flags = node_flags(trace, problems)
    reqs = trace.design.requirements
    counts = {f"problems_{gate}": sum(p.gate == gate for p in problems)
              for gate in sorted({p.gate for p in problems})}
    counts.update({
        "problems": len(problems), "requirements": len(reqs),
        "requirements_verified": sum(not flags.get(r) for r in reqs),
        "risks": len(trace.design.risks), "controls": len(trace.design.controls),
        "controls_verified": sum(not flags.get(c) for c in trace.design.controls),
        "tests": len(trace.tests), "criteria": len(trace.design.criteria),
        "open_items": len(trace.open_items),
        "open_items_blocking": sum(item.kind in trace.blocking_kinds for item in trace.open_items),
    })
    result = {"release_status": release_label(problems), "counts": counts,
              "changed_files": list(trace.changes or [])}
    check_record(result, TraceSummary, "trace gate summary")  # the command writes it
    return result


def release_label(problems: list[Problem]) -> str:
    """``releasable``; ``draft`` when the only problems are uncommitted changes; else ``not releasable``."""
    if not problems:
        return "releasable"
    return "draft" if all(p.gate == "draft" for p in problems) else "not releasable"


def write_site(trace: Trace, problems: list[Problem], out: Path,
               templates: Path = TEMPLATES) -> None:
    """Render every page into ``out`` atomically.

    Args:
        trace: the graph.
        problems: the gate results (shown, never raised).
        out: the site folder (replaced as a whole).
        templates: the template folder.
    """
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             keep_trailing_newline=True)
    flags = node_flags(trace, problems)
    view = View(trace, problems, flags)
    with atomic_dir(out, shared=True) as tmp:  # release/trace: the shared file modes
        view.evidence = _copy_evidence(trace, tmp)
        view.released = released_files(trace, out)
        view.junit_copy = _copy_report(trace, "junit", tmp)
        view.vnv_copy = _copy_report(trace, "vnv", tmp)
        common = _common(trace, problems, view, out)
        for name, template in (("index.html", "index.html"), ("risks.html", "risks.html"),
                               ("stages.html", "stages.html"),
                               ("verification.html", "verification.html"),
                               ("release.html", "release.html"),
                               ("problems.html", "problems.html"),
                               ("approvals.html", "approvals.html")):
            _render(env, template, tmp / name, dict(common, self_file=name))
        for page in node_pages(view):
            _render(env, "item.html", tmp / page["file"], dict(common, page=page, self_file=""))
        (tmp / "problems.json").write_text(dumps_json(
            {**summary(trace, problems), "problems": [p.line() for p in problems]}))


def _common(trace: Trace, problems: list[Problem], view: View, site: Path) -> dict[str, Any]:
    root = Path(trace.paths.root)
    inputs = []
    for label, name in (("dvc.lock (evidence stages)", "dvc_lock"), ("test report", "junit"),
                        ("V&V results", "vnv"), ("review record", "reviews")):
        path = trace.paths.at(name)
        digest = "missing"
        if path.is_file():  # the lock without the document stages' own entries: a render changes those
            digest = provenance.evidence_lock_sha256(path) if name == "dvc_lock" else provenance.file_sha256(path)
        inputs.append({"label": label, "path": getattr(trace.paths, name), "sha256": digest})
    return {
        "governance": approvals_view(root), "changes": _changes(site),
        "sections": SECTIONS, "flags": FLAGS, "view": view, "trace": trace,
        "plan": trace.design.plan, "problems": [p.line() for p in problems],
        "status": summary(trace, problems),
        "commit": f"{trace.commit or 'not a git checkout'}" + (" + uncommitted changes (draft)" if trace.changes else ""),
        "inputs": inputs, "rows": view.matrix_rows(), "evidence": view.evidence,
        "needs": view.refs(list(trace.design.user_needs)),
        "grid_before": view.risk_grid(residual=False), "grid_after": view.risk_grid(residual=True),
        "risks": [(view.ref(r.id), view.risk_label(r.severity, r.probability),
                   view.risk_label(r.residual_severity, r.residual_probability), view.refs(r.controls))
                  for r in trace.design.risks.values()],
        "controls": [(view.ref(c.id), c.kind.replace("_", " "),
                      view.refs(trace.implemented_by(c.id))) for c in trace.design.controls.values()],
        # a document stage's own run is not shown: its ID changes with every render
        "stages": [(view.ref(s.name), s, None if s.name in provenance.DOCUMENT_STAGES else trace.runs.get(s.name))
                   for s in trace.stages.values()],
        "tests": [(view.ref(t.key), t.status, view.refs(t.requirements))
                  for t in trace.tests.values()],
        "criteria": [(view.ref(c.id), view.result_text(c.id), view.refs(c.requirements))
                     for c in trace.design.criteria.values()],
        "badges": badges,
        "models": [(name, rel, recorded, _sha_or_missing(root / rel))
                   for name, (rel, recorded) in sorted(trace.vnv.models.items())],
        "absent_models": dict(sorted(trace.vnv.absent_models.items())),
        "released": view.released, "junit_copy": view.junit_copy, "vnv_copy": view.vnv_copy,
        "junit_source": trace.junit_source,
        "validations": {n: view.validation(n) for n in trace.design.user_needs},
    }


def _changes(site: Path) -> dict[str, Any] | None:
    """The change report's summary and link, when ``release diff`` wrote one beside the site
    (``release/changes`` next to ``release/trace``)."""
    report = load_change_report(Path(site).resolve().parent / CHANGES_NAME)
    if report is None:
        return None
    return {"href": CHANGES_PAGE, "rev": report.from_.rev, "commit": report.from_.commit,
            "summary": report.summary}


def _sha_or_missing(path: Path) -> str:
    return provenance.file_sha256(path) if path.is_file() else "missing"


def _copy_report(trace: Trace, name: str, site: Path) -> str | None:
    """Copy a recorded report (``junit``, ``vnv``) into the site; its path there, or None if absent."""
    source = trace.paths.at(name)
    if not source.is_file():
        return None
    (site / REPORTS).mkdir(exist_ok=True)
    shutil.copyfile(source, site / REPORTS / source.name)
    return f"{REPORTS}/{source.name}"


def _copy_evidence(trace: Trace, site: Path) -> list[dict[str, Any]]:
    out = []
    for index, ev in enumerate(trace.vnv.evidence):
        source = Path(trace.paths.root) / ev.path
        entry = {"path": ev.path, "caption": ev.caption, "requirements": ev.requirements,
                 "file": None, "sha256": "missing"}
        if source.is_file():
            name = f"{index:03d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", source.name)
            (site / "evidence").mkdir(exist_ok=True)
            shutil.copyfile(source, site / "evidence" / name)
            entry.update(file=f"evidence/{name}",
                         sha256=hashlib.sha256(source.read_bytes()).hexdigest())
        out.append(entry)
    return out


def _render(env: jinja2.Environment, template: str, target: Path, context: dict) -> None:
    target.write_text(env.get_template(template).render(**context))
