"""One page per trace node: its fields, its links both ways, hashes, results and problems."""

from __future__ import annotations

from typing import Any

from pipeline.core import provenance
from pipeline.trace.site_view import KIND_LABELS, View
from pipeline.trace.status import badges

HIDDEN_FIELDS = {"id", "title", "derives_from", "implements", "controls", "requirements",
                 "effectiveness_evidence"}


def node_pages(view: View) -> list[dict[str, Any]]:
    """Every page of the site's item section, in a stable order."""
    trace = view.trace
    nodes = [*trace.design.items(), *trace.stages, *trace.tests]
    return [_page(view, node) for node in nodes]


def _page(view: View, node: str) -> dict[str, Any]:
    trace, kind = view.trace, view.trace.kind(node)
    page = {"id": node, "title": view.title(node), "kind": KIND_LABELS[kind],
            "file": view.href(node), "badges": badges(view.flags.get(node, set())),
            "fields": [], "groups": [], "tables": [], "images": [],
            "problems": view.problems_of(node)}
    item = trace.design.items().get(node)
    if item is not None:
        page["fields"] = [(k.replace("_", " "), _text(v)) for k, v in item.model_dump().items()
                          if k not in HIDDEN_FIELDS]
    builder = {"user_need": _user_need, "requirement": _requirement, "risk": _risk,
               "control": _control, "criterion": _criterion, "stage": _stage, "test": _test}
    builder[kind](view, node, page)
    return page


def _group(page: dict, heading: str, refs: list[dict]) -> None:
    page["groups"].append({"heading": heading, "refs": refs})


def _user_need(view: View, node: str, page: dict) -> None:
    _group(page, "Derived software requirements (traced from)",
           view.refs(view.incoming(node, "requirement")))


def _requirement(view: View, node: str, page: dict) -> None:
    req = view.trace.design.requirements[node]
    tests, criteria = view.trace.verifiers(node)
    _group(page, "Derives from (traces to)", view.refs(req.derives_from))
    _group(page, "Implements risk controls (traces to)", view.refs(req.implements))
    _group(page, "Risks controlled through these controls", view.refs(view.risks_of(node)))
    _group(page, "Refined by requirements (traced from)",
           view.refs(view.incoming(node, "requirement")))
    _group(page, "Implemented in stages (traced from)", view.refs(view.incoming(node, "stage")))
    _group(page, "Verified by tests (traced from)", view.refs([t.key for t in tests]))
    _group(page, "Verified by acceptance criteria (traced from)", view.refs(criteria))
    _group(page, "Cited as effectiveness evidence by", view.refs(view.incoming(node, "control")))
    if criteria:
        page["fields"].append(("results", "; ".join(view.result_text(c) for c in criteria)))
    page["images"] = [e for e in view.evidence if node in e["requirements"]]


def _risk(view: View, node: str, page: dict) -> None:
    risk = view.trace.design.risks[node]
    page["fields"].append(("initial risk", view.risk_label(risk.severity, risk.probability)))
    page["fields"].append(("residual risk", view.risk_label(risk.residual_severity,
                                                            risk.residual_probability)))
    _group(page, "Risk controls (traces to)", view.refs(risk.controls))
    _group(page, "Stages that address it (traced from)", view.refs(view.incoming(node, "stage")))


def _control(view: View, node: str, page: dict) -> None:
    control = view.trace.design.controls[node]
    implementers = view.trace.implemented_by(node)
    tests = [t.key for r in implementers for t in view.trace.verifiers(r)[0]]
    criteria = [c for r in implementers for c in view.trace.verifiers(r)[1]]
    _group(page, "Implemented by requirements (traced from)", view.refs(implementers))
    _group(page, "Verification of implementation: tests", view.refs(tests))
    _group(page, "Verification of implementation: acceptance criteria", view.refs(criteria))
    _group(page, "Verification of effectiveness: evidence (traces to)",
           view.refs(control.effectiveness_evidence))
    _group(page, "Controls risks (traced from)", view.refs(view.incoming(node, "risk")))


def _criterion(view: View, node: str, page: dict) -> None:
    page["fields"].append(("result", view.result_text(node)))
    _group(page, "Verifies requirements (traces to)",
           view.refs(view.trace.design.criteria[node].requirements))


def _stage(view: View, node: str, page: dict) -> None:
    stage = view.trace.stages[node]
    document = node in provenance.DOCUMENT_STAGES  # its own run ID changes with every render
    run = None if document else view.trace.runs.get(node)
    page["fields"] = [("description", stage.desc), ("command", stage.cmd),
                      ("ran (dvc.lock entry)", "yes" if stage.locked else "no"),
                      ("MLflow run", "not shown for a document stage" if document else
                       run.run_id if run else "none recorded")]
    _group(page, "Implements requirements (traces to)", view.refs(stage.requirements))
    _group(page, "Addresses risks (traces to)", view.refs(stage.risks))
    producers = {p: s for s in view.trace.stages.values() for p in s.outs}
    deps = [[d, stage.dep_hashes.get(d, "not recorded"),
             view.ref(producers[d].name) if d in producers else None] for d in stage.deps]
    page["tables"].append({"heading": "Inputs (md5 recorded in dvc.lock)",
                           "columns": ["path", "md5", "produced by"], "rows": deps})
    outs = [[o, stage.out_hashes.get(o, "not recorded"), None] for o in stage.outs]
    page["tables"].append({"heading": "Outputs (md5 recorded in dvc.lock)",
                           "columns": ["path", "md5", ""], "rows": outs})


def _test(view: View, node: str, page: dict) -> None:
    test = view.trace.tests[node]
    page["fields"] = [("source", test.source or "only in the junit report"),
                      ("outcome", test.status)]
    _group(page, "Verifies requirements (traces to)", view.refs(test.requirements))
    page["tables"].append({"heading": "Cases in the junit report",
                           "columns": ["case", "outcome", ""],
                           "rows": [[case, outcome, None] for case, outcome in test.cases.items()]})


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
