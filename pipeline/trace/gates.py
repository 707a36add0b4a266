"""The release gates of ``trace check``: one ``Problem`` per broken link or missing evidence."""

from __future__ import annotations

import graphlib
import subprocess
from dataclasses import dataclass

from pipeline.core.provenance import file_sha256
from pipeline.trace import reviews as rv
from pipeline.trace import workspace
from pipeline.trace.graph import Trace, downstream, hierarchy_edges
from pipeline.trace.stages import stale_inputs

# What each link may point at, by the child's kind.
ALLOWED_TARGETS = {
    "requirement": ("user_need", "requirement", "control"),
    "risk": ("control",),
    "control": ("requirement", "criterion"),
    "criterion": ("requirement",),
    "stage": ("requirement", "risk"),
    "test": ("requirement",),
}


@dataclass(frozen=True)
class Problem:
    """One failed gate: its name, the item it is about, the message and the status flag."""

    gate: str
    item: str
    message: str
    flag: str
    related: tuple[str, ...] = ()

    def line(self) -> str:
        """The one-line form printed by ``trace check``."""
        return f"{self.gate}: {self.item}: {self.message}"


def check(trace: Trace, as_of: str | None = None) -> list[Problem]:
    """Run every gate; an empty list means the trace is complete and releasable.

    Args:
        trace: the built graph.
        as_of: the stage running the check inside ``dvc repro`` (e.g. ``trace``): it and its
            downstream stages are not expected to have run yet.
    """
    pending = downstream(trace.stages, as_of) if as_of in trace.stages else set()
    problems = _unknown_ids(trace) + _cycles(trace) + _stages(trace, pending)
    verification = _verification(trace)
    unverified = {p.item for p in verification if p.item in trace.design.requirements}
    unverified |= {r for p in verification for r in p.related}
    problems += verification + _controls(trace, unverified) + _risks(trace)
    problems += _coverage(trace) + _suspects(trace, pending) + _release(trace) + _draft(trace)
    problems += _test_report_source(trace) + _workspace(trace, pending) + _open_items(trace)
    return problems


def _open_items(trace: Trace) -> list[Problem]:
    """The ``open`` gate: each open item of a kind the release policy says blocks a release."""
    return [Problem("open", item.id, f"open item ({item.kind}): {item.title}; governance/policy.yaml "
                    f"(blocking_open_items) lets no release carry an open {item.kind}", "failed")
            for item in trace.open_items if item.kind in trace.blocking_kinds]


def _workspace(trace: Trace, pending: set[str]) -> list[Problem]:
    """Every output a stage recorded in ``dvc.lock`` must still hold the recorded content:
    metrics, V&V evidence, models and data are what the documents cite."""
    recorded = {name: stage.out_hashes for name, stage in trace.stages.items()
                if stage.locked and name not in pending and not stage.outside_run}
    out = []
    for change in workspace.changed_outputs(trace.paths.root, recorded):
        what = ("is missing" if change.now is None else
                f"differs from what stage {change.stage} recorded in dvc.lock (md5 {change.recorded[:12]}, "
                f"now {change.now[:12]})")
        out.append(Problem("changed", change.path, f"{what}: edited or replaced after the run; rerun "
                           f"the stage (dvc repro) or restore the recorded content (dvc checkout)",
                           "suspect", (change.stage,)))
    return out


# Files that record a run, not sources: committing them after `make test` (the release flow
# commits dvc.lock after `make techfile`) leaves the tested sources as they were; the log of
# the locked splits' evaluations (``paths.test_split_log``) is one too.
RUN_RECORDS = ("dvc.lock", "governance/approvals/")


def _test_report_source(trace: Trace) -> list[Problem]:
    """The test report must come from a test session on exactly the committed sources: the
    release's commit, or an earlier one from which only run records (``RUN_RECORDS``) changed."""
    if trace.commit is None or not trace.junit_found:
        return []
    source = trace.junit_source
    records = (*RUN_RECORDS, trace.paths.test_split_log)
    if source == trace.commit or (source and _only_run_records_since(trace.paths.root, source, trace.commit,
                                                                     records)):
        return []
    why = ("records no source commit" if source is None else f"ran on {source[:12]}"
           + (" with uncommitted changes" if source.endswith("-dirty") else ""))
    return [Problem("suspect", trace.paths.junit, f"the test report {why}, the release is built from "
                    f"{trace.commit[:12]}: run `make test` on the committed sources, then `make techfile`",
                    "suspect")]


def _only_run_records_since(root, source: str, commit: str, records: tuple[str, ...]) -> bool:
    """Whether ``source`` is an ancestor of ``commit`` and every file changed between them is a
    run record (False when git cannot tell, e.g. a ``-dirty`` source or an unknown commit)."""
    try:
        subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", source, commit],
                       check=True, capture_output=True)
        changed = subprocess.run(["git", "-C", str(root), "diff", "--name-only", source, commit],
                                 check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return False
    return all(_is_run_record(path, records) for path in changed)


def _is_run_record(path: str, records: tuple[str, ...]) -> bool:
    return any(path == record or (record.endswith("/") and path.startswith(record)) for record in records)


def _draft(trace: Trace) -> list[Problem]:
    """A release rendered from uncommitted changes is a draft: one problem per changed file."""
    return [Problem("draft", path, f"differs from commit {str(trace.commit)[:12]}: commit it (after dvc "
                    "repro, dvc.lock too), then re-render with `make techfile`", "suspect")
            for path in trace.changes or []]


def _unknown_ids(trace: Trace) -> list[Problem]:
    out = []
    for node, targets in trace.links.items():
        allowed = ALLOWED_TARGETS.get(trace.kind(node), ())
        for target in targets:
            kind = trace.kind(target)
            if kind == "unknown":
                out.append(Problem("unknown-id", node, f"links to unknown ID {target!r}",
                                   "failed"))
            elif kind not in allowed:
                out.append(Problem("unknown-id", node, f"links to {target} ({kind}), but may "
                                   f"only link to {', '.join(allowed)}", "failed"))
    for node in trace.reviews:
        if node not in trace.links and node not in trace.design.other_plans:
            out.append(Problem("unknown-id", node, f"{trace.paths.reviews} has a review record "
                               "for an item that no longer exists; run `python -m pipeline "
                               "trace review` on any item to drop it", "failed"))
    return out


def _cycles(trace: Trace) -> list[Problem]:
    edges = hierarchy_edges(trace)
    out = []
    while True:
        try:
            graphlib.TopologicalSorter(edges).prepare()
            return out
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            out.append(Problem("cycle", cycle[0], "link cycle " + " -> ".join(cycle), "failed",
                               tuple(cycle[1:])))
            edges[cycle[0]] = [t for t in edges[cycle[0]] if t != cycle[1]]


def _stages(trace: Trace, pending: set[str]) -> list[Problem]:
    out = []
    for stage in trace.stages.values():
        if not stage.requirements:
            out.append(Problem("no-requirement", stage.name,
                               "stage names no requirement in meta.requirements", "missing"))
        if not stage.locked and stage.name not in pending and not stage.outside_run:
            out.append(Problem("missing", stage.name, "stage has not run (no dvc.lock entry); "
                               "run dvc repro", "missing"))
    return out


def _verification(trace: Trace) -> list[Problem]:
    out = []
    for key, test in trace.tests.items():
        if test.status == "failed":
            out.append(Problem("failed", key, "test failed in " + trace.paths.junit, "failed",
                               tuple(test.requirements)))
        if not test.requirements and test.status != "missing":
            out.append(Problem("unlinked", key, "test verifies no requirement (add "
                               "@pytest.mark.verifies)", "missing"))
    for crit in trace.design.criteria.values():
        result = trace.vnv.criteria.get(crit.id)
        if result is None:
            out.append(Problem("missing", crit.id, f"no result in {trace.paths.vnv}", "missing",
                               tuple(crit.requirements)))
        elif result.status == "FAIL":
            detail = (result.value if isinstance(result.value, str)
                      else f"{result.value} vs threshold {crit.comparison} {crit.threshold}")
            out.append(Problem("failed", crit.id, f"FAIL: {detail}", "failed",
                               tuple(crit.requirements)))
    for req in trace.design.requirements:
        out += _requirement_verification(trace, req)
    return out


def _requirement_verification(trace: Trace, req: str) -> list[Problem]:
    tests, criteria = trace.verifiers(req)
    if not tests and not criteria:
        return [Problem("unverified", req, "no test or acceptance criterion verifies it",
                        "missing")]
    out = []
    missing = [t.key for t in tests if t.status == "missing"]
    if missing:
        where = trace.paths.junit if trace.junit_found else f"{trace.paths.junit} (not found)"
        out.append(Problem("missing", req, f"{len(missing)} test(s) without result in {where}: "
                           + ", ".join(missing), "missing"))
    no_result = [c for c in criteria if c not in trace.vnv.criteria]
    if no_result:
        out.append(Problem("missing", req, f"{len(no_result)} acceptance criterion(s) without "
                           f"result in {trace.paths.vnv}: " + ", ".join(no_result), "missing"))
    missing += no_result
    passed = [t for t in tests if t.status == "passed"] + [
        c for c in criteria if getattr(trace.vnv.criteria.get(c), "status", "") == "PASS"]
    failed = [t for t in tests if t.status == "failed"] + [
        c for c in criteria if getattr(trace.vnv.criteria.get(c), "status", "") == "FAIL"]
    if not passed and not failed and not missing:
        out.append(Problem("unverified", req, "no passing test or criterion (all skipped, "
                           "inconclusive or not applicable)", "missing"))
    return out


def _controls(trace: Trace, unverified: set[str]) -> list[Problem]:
    out = []
    for control in trace.design.controls:
        implementers = trace.implemented_by(control)
        if not implementers:
            out.append(Problem("control-unverified", control, "no requirement implements it, "
                               "so nothing verifies its implementation", "missing"))
        for req in implementers:
            if req in unverified:
                out.append(Problem("control-unverified", control, f"implementing requirement "
                                   f"{req} is not verified", "missing", (req,)))
    return out


def _risks(trace: Trace) -> list[Problem]:
    plan, out = trace.design.plan, []
    for risk in trace.design.risks.values():
        if not risk.controls:
            out.append(Problem("no-control", risk.id, "risk has no risk control", "missing"))
        region = plan.region(risk.residual_severity, risk.residual_probability)
        if region == "unacceptable":
            out.append(Problem("residual-risk", risk.id, "residual risk "
                               f"{plan.label('severity', risk.residual_severity)} x "
                               f"{plan.label('probability', risk.residual_probability)} "
                               "is in the unacceptable region", "failed"))
        elif region == "alarp" and not risk.benefit_risk.strip():
            out.append(Problem("residual-risk", risk.id, "residual risk is ALARP but has no "
                               "benefit_risk justification", "failed"))
    return out


def _coverage(trace: Trace) -> list[Problem]:
    out = []
    for need in trace.design.user_needs:
        if not any(trace.kind(b) == "requirement" for b in trace.backlinks.get(need, [])):
            out.append(Problem("coverage", need, "no software requirement derives from it",
                               "missing"))
    for control in trace.design.controls:
        if not any(trace.kind(b) == "risk" for b in trace.backlinks.get(control, [])):
            out.append(Problem("coverage", control, "no risk lists this control", "missing"))
    return out


def _suspects(trace: Trace, pending: set[str]) -> list[Problem]:
    out = []
    for node, (own, targets) in trace.reviewable().items():
        for target, reason in rv.suspect_links(trace.reviews, node, own, targets):
            out.append(Problem("suspect", node, f"{reason}; review with `python -m pipeline "
                               f"trace review {node}`", "suspect", (target,)))
    out += _changed_upstream(trace)
    stale = [s for s in stale_inputs(trace.stages) if s.stage not in pending]
    for entry in stale:
        out.append(Problem("suspect", entry.stage, f"input {entry.path} is now "
                           f"{entry.current} (stage {entry.producer}) but the evidence was "
                           f"produced from {entry.used}; run dvc repro", "suspect"))
    out += _evidence_on_stale_inputs(trace, stale, pending)
    producers = {p: (s.name, h) for s in trace.stages.values() for p, h in s.out_hashes.items()
                 if not s.outside_run}
    for run in trace.runs.values():
        if run.stage in pending or run.stage not in trace.stages:
            continue
        for path, used in run.inputs.items():
            current = producers.get(path, (None, used))[1]
            if used != "untracked" and current != used:
                out.append(Problem("suspect", run.stage, f"MLflow run {run.run_id} used "
                                   f"{path} {used}, dvc.lock now records {current}; run dvc "
                                   "repro", "suspect"))
    return out


def _changed_upstream(trace: Trace) -> list[Problem]:
    """Change impact upstream: an item edited since its review makes each item it links to (its
    user needs, the controls it implements, a risk's controls, a stage's requirements) suspect too,
    until ``trace review`` records the edited item again."""
    out = []
    items = trace.design.items()
    for node, (own, _) in trace.reviewable().items():
        record = trace.reviews.get(node)
        if record is None or record.get("fingerprint") == own:
            continue
        for target in trace.links.get(node, []):
            if target in items:
                out.append(Problem("suspect", target, f"{node} links to it and changed since that link was "
                                   f"reviewed; check that {target} still holds, then review with "
                                   f"`python -m pipeline trace review {node}`", "suspect", (node,)))
    return out


def _evidence_on_stale_inputs(trace: Trace, stale: list, pending: set[str]) -> list[Problem]:
    """Change impact downstream: a stage output recorded with a new hash (a new data set or model)
    makes the criteria results and explanation evidence produced from the old one suspect, until
    the stage that produces them has run again (then its recorded inputs match)."""
    affected: dict[str, str] = {}
    for entry in stale:
        for name in downstream(trace.stages, entry.stage):
            affected.setdefault(name, f"{entry.path} (now {entry.current[:12]}, stage {entry.producer})")
    producer = next((name for name, stage in trace.stages.items()
                     if trace.paths.vnv in stage.outs and name in affected and name not in pending), None)
    if producer is None:
        return []
    why = (f"rests on {affected[producer]}, which changed after stage {producer} produced it; "
           f"run dvc repro (stage {producer})")
    out = [Problem("suspect", cid, f"result {why}", "suspect", (producer,))
           for cid in trace.design.criteria if cid in trace.vnv.criteria]
    out += [Problem("suspect", ev.path, f"explanation evidence {why}", "suspect", (producer, *ev.requirements))
            for ev in trace.vnv.evidence]
    return out


def _release(trace: Trace) -> list[Problem]:
    out = []
    for ev in trace.vnv.evidence:
        unknown = [r for r in ev.requirements if r not in trace.design.requirements]
        if unknown:
            out.append(Problem("unknown-id", ev.path, f"evidence names unknown requirement "
                               f"ID(s) {', '.join(unknown)}", "failed"))
        path = trace.paths.root / ev.path
        if not path.is_file():
            out.append(Problem("missing", ev.path, f"evidence file listed in {trace.paths.vnv} "
                               "not found", "missing", tuple(ev.requirements)))
        elif ev.sha256 and file_sha256(path) != ev.sha256:
            out.append(Problem("suspect", ev.path, f"evidence file changed since "
                               f"{trace.paths.vnv} recorded it; run dvc repro", "suspect"))
    for name, (rel, recorded) in sorted(trace.vnv.models.items()):
        path = trace.paths.root / rel
        if not path.is_file():
            out.append(Problem("missing", rel, f"verified model {name} not found", "missing"))
        elif file_sha256(path) != recorded:
            out.append(Problem("suspect", rel, f"model {name} changed since it was verified "
                               f"(sha256 {recorded[:12]} in {trace.paths.vnv}, now "
                               f"{file_sha256(path)[:12]}); run dvc repro", "suspect"))
    for split, (used, allowed) in sorted(trace.vnv.split_evaluations.items()):
        if used > allowed:
            out.append(Problem("test-split", f"{split} split", f"looked at {used} times, more than the V&V "
                               f"plan's test_split_policy allows ({allowed}): refresh it with new patients "
                               "before a release claims performance on it", "failed"))
    status = trace.vnv.release_status
    if status is not None and status.lower() != "releasable":
        out.append(Problem("failed", "release", f"{trace.paths.vnv} reports release status "
                           f"{status!r}", "failed"))
    return out

