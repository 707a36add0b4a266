"""One page per trace node: its fields, its links both ways, hashes, results and problems."""

from __future__ import annotations

from typing import Any

from pipeline.core import provenance
from pipeline.trace.site_view import KIND_LABELS, View

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
            "file": view.href(node), "badges": view.ref(node)["badges"],
            "fields": [], "groups": [], "tables": [], "images": [], "files": [], "results": [],
            "validation": None, "report": None, "problems": view.problems_of(node)}
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
    page["validation"] = view.validation(node)
    files = {f.path: f for r in view.need_requirements(node) for f in view.released_for(r)}
    page["files"] = [_file(f) for f in files.values()]


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
    page["files"] = [_file(f) for f in view.released_for(node)]


def _risk(view: View, node: str, page: dict) -> None:
    risk = view.trace.design.risks[node]
    plan = view.trace.design.plan
    levels = {field.replace("_", " "): plan.label(
                  "severity" if field.endswith("severity") else "probability", getattr(risk, field))
              for field in ("severity", "probability", "residual_severity", "residual_probability")}
    # the register names each level as the plan does; the page shows the name and the level
    page["fields"] = [(k, levels.get(k, v)) for k, v in page["fields"]]
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
    trace = view.trace
    criterion = trace.design.criteria[node]
    result = trace.vnv.criteria.get(node)
    page["fields"].append(("result", view.result_text(node)))
    split = trace.vnv.split_identity.get(criterion.split)
    if split:
        looks = trace.vnv.split_evaluations.get(criterion.split)
        page["fields"].append(("judged on", f"the locked {criterion.split} split: {split.get('cases')} cases, "
                               f"content SHA-256 {split.get('content_sha256')}"
                               + (f"; look {looks[0]} of at most {looks[1]} the V&V plan allows" if looks else "")))
    else:
        page["fields"].append(("judged on", f"the {criterion.split} split"))
    _group(page, "Verifies requirements (traces to)", view.refs(criterion.requirements))
    page["results"] = [{"model": g.model, "group": g.group, "n": g.n, "value": _num(g.value),
                        "interval": (f"{g.mean:.4g} [{g.ci_lower:.4g}, {g.ci_upper:.4g}]"
                                     if None not in (g.mean, g.ci_lower, g.ci_upper) else "not recorded"),
                        "threshold": f"{criterion.statistic} {criterion.comparison} {criterion.threshold:g}",
                        "status": g.status, "reason": g.reason}
                       for g in (result.groups if result is not None else ())]
    page["report"] = {"label": f"V&V results ({trace.paths.vnv})", "href": view.vnv_copy,
                      "sha256": _sha(trace, "vnv")}
    page["images"] = [e for e in view.evidence if set(e["requirements"]) & set(criterion.requirements)]
    page["files"] = [_file(f) for f in view.released if f.name in criterion.models or f.name == "manifest"]


def _stage(view: View, node: str, page: dict) -> None:
    stage = view.trace.stages[node]
    document = node in provenance.DOCUMENT_STAGES  # its own run ID changes with every render
    run = None if document else view.trace.runs.get(node)
    page["fields"] = [("description", stage.desc), ("command", stage.cmd),
                      ("ran (dvc.lock entry)", _ran(stage)),
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
    trace = view.trace
    test = trace.tests[node]
    seconds = test.seconds
    page["fields"] = [("source", test.source or "only in the junit report"),
                      ("outcome", test.status),
                      ("duration", f"{seconds:.3f} s" if seconds is not None else "no result in the report"),
                      ("commit tested", trace.junit_source or "not recorded in the report")]
    _group(page, "Verifies requirements (traces to)", view.refs(test.requirements))
    page["tables"].append({"heading": "Cases in the junit report",
                           "columns": ["case", "outcome", "seconds"],
                           "rows": [[case, outcome, _num(test.durations.get(case))]
                                    for case, outcome in test.cases.items()]})
    page["report"] = {"label": f"test report ({trace.paths.junit})", "href": view.junit_copy,
                      "sha256": _sha(trace, "junit")}


def _file(f) -> dict[str, Any]:
    return {"label": f.label, "href": f.href, "path": f.path, "note": f.note,
            "sha256": f.current_sha256 or None, "verified": f.verified_sha256,
            "matches": f.matches, "manifest": f.verified_sha256 is None}


def _sha(trace, name: str) -> str:
    path = trace.paths.at(name)
    return provenance.file_sha256(path) if path.is_file() else "missing"


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _ran(stage) -> str:
    """Whether the stage ran, and whether this run's data passed through it."""
    if stage.outside_run:
        return ("not part of this run: the data the models were trained and verified on entered at a later "
                "stage that records its own source (a data profile)"
                + ("; the dvc.lock entry is an earlier run's, not evidence of this one" if stage.locked else ""))
    return "yes" if stage.locked else "no"
