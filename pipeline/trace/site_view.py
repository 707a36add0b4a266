"""The view model of the trace site: plain dicts the templates render (no logic in templates)."""

from __future__ import annotations

import re
from typing import Any

from pipeline.trace.gates import Problem
from pipeline.trace.graph import Trace
from pipeline.trace.released import ReleasedFile
from pipeline.trace.status import FLAGS, badges

KIND_LABELS = {
    "user_need": "User need", "requirement": "Software requirement", "risk": "Risk",
    "control": "Risk control", "criterion": "Acceptance criterion", "stage": "Stage",
    "test": "Test", "unknown": "Unknown ID",
}
# A user need is validated (by acceptance criteria on the locked splits), not verified: its state.
VALIDATED, VALIDATION_FAILED = "validated", "validation failed"
VALIDATION_PENDING, NO_VALIDATION = "validation pending", "no validation criterion"


class View:
    """Builds references and pages for one trace, its problems and its flags."""

    def __init__(self, trace: Trace, problems: list[Problem], flags: dict[str, set[str]]):
        self.trace, self.problems, self.flags = trace, problems, flags
        self.evidence: list[dict[str, Any]] = []
        self.released: list[ReleasedFile] = []
        self.junit_copy: str | None = None  # the test report's path inside the site, once copied
        self.vnv_copy: str | None = None  # the V&V results' path inside the site, once copied

    def href(self, node: str) -> str | None:
        """The page file of a node, ``None`` for unknown IDs."""
        kind = self.trace.kind(node)
        if kind == "unknown":
            return None
        prefix = {"stage": "stage-", "test": "test-"}.get(kind, "")
        return prefix + re.sub(r"[^A-Za-z0-9_.-]+", "_", node) + ".html"

    def title(self, node: str) -> str:
        """A node's human title."""
        items = self.trace.design.items()
        if node in items:
            return items[node].title
        if node in self.trace.stages:
            return self.trace.stages[node].desc
        return node.rsplit("::", 1)[-1] if node in self.trace.tests else "unknown ID"

    def ref(self, node: str) -> dict[str, Any]:
        """A link to a node with its badges (a user need's: its problems and its validation state,
        never "verified")."""
        kind = self.trace.kind(node)
        flags = self.flags.get(node, set())
        shown = ([f for f in FLAGS if f in flags] + [self.validation(node)["state"]]
                 if kind == "user_need" else badges(flags))
        return {"id": node, "title": self.title(node), "href": self.href(node),
                "kind": KIND_LABELS[kind], "badges": shown}

    def need_requirements(self, need: str) -> list[str]:
        """The requirements deriving from a user need, directly or through refined requirements."""
        reqs = self.trace.design.requirements
        found, frontier = [], [need]
        while frontier:
            parent = frontier.pop(0)
            for child in self.trace.backlinks.get(parent, []):
                if child in reqs and parent in reqs[child].derives_from and child not in found:
                    found.append(child)
                    frontier.append(child)
        return found

    def validation(self, need: str) -> dict[str, Any]:
        """How a user need is validated: the acceptance criteria of its requirements and their state.

        ``validated`` when every such criterion passed, ``validation failed`` when one failed,
        ``validation pending`` when one is inconclusive or has no result, ``no validation
        criterion`` when none traces to it (its requirements are then verified by tests only).
        A NOT APPLICABLE criterion (the data cannot answer it) counts for neither; when all
        are, validation is pending.
        """
        reqs = set(self.need_requirements(need))
        criteria = [c for c in self.trace.design.criteria.values() if reqs & set(c.requirements)]
        results = [(c, self.trace.vnv.criteria.get(c.id)) for c in criteria]
        statuses = [r.status if r is not None else "missing" for _, r in results]
        if not criteria:
            state = NO_VALIDATION
        elif "FAIL" in statuses:
            state = VALIDATION_FAILED
        elif any(s not in ("PASS", "NOT APPLICABLE") for s in statuses) or "PASS" not in statuses:
            state = VALIDATION_PENDING
        else:
            state = VALIDATED
        return {"state": state, "criteria": [
            {"ref": self.ref(c.id), "status": status, "split": c.split,
             "requirements": sorted(reqs & set(c.requirements))}
            for (c, _), status in zip(results, statuses)]}

    def released_for(self, requirement: str) -> list[ReleasedFile]:
        """The released files (model files, manifest) implementing a requirement."""
        return [f for f in self.released if requirement in f.requirements]

    def refs(self, nodes: list[str]) -> list[dict[str, Any]]:
        """References for several nodes, order kept, duplicates dropped."""
        return [self.ref(n) for n in dict.fromkeys(nodes)]

    def incoming(self, node: str, kind: str) -> list[str]:
        """Nodes of ``kind`` that link to ``node``."""
        return [b for b in self.trace.backlinks.get(node, []) if self.trace.kind(b) == kind]

    def risks_of(self, requirement: str) -> list[str]:
        """Risks controlled through the controls a requirement implements."""
        controls = set(self.trace.design.requirements[requirement].implements)
        return [r.id for r in self.trace.design.risks.values() if controls & set(r.controls)]

    def problems_of(self, node: str) -> list[str]:
        """Problem lines about a node or naming it as related."""
        return [p.line() for p in self.problems if p.item == node or node in p.related]

    def matrix_rows(self) -> list[dict[str, Any]]:
        """One row per software requirement across the whole chain."""
        rows = []
        for req in self.trace.design.requirements.values():
            tests, criteria = self.trace.verifiers(req.id)
            rows.append({
                "req": self.ref(req.id), "kind": req.kind,
                "needs": self.refs([i for i in req.derives_from]),
                "controls": self.refs(req.implements), "risks": self.refs(self.risks_of(req.id)),
                "stages": self.refs(self.incoming(req.id, "stage")),
                "tests": self.refs([t.key for t in tests]),
                "criteria": self.refs(criteria),
                "results": [self.result_text(c) for c in criteria],
                "status": " ".join(badges(self.flags.get(req.id, set()))),
            })
        return rows

    def result_text(self, criterion: str) -> str:
        """``VAL-001: PASS (0.91 vs >= 0.85)``, with per-model reasons, or ``no result``."""
        result = self.trace.vnv.criteria.get(criterion)
        if result is None:
            return f"{criterion}: no result"
        crit = self.trace.design.criteria[criterion]
        if isinstance(result.value, str):
            return f"{criterion}: {result.status} ({result.value})"
        return f"{criterion}: {result.status} ({result.value} vs {crit.comparison} {crit.threshold})"

    def risk_grid(self, residual: bool) -> list[dict[str, Any]]:
        """Rows (highest severity first) of cells: region and the risks placed there."""
        plan = self.trace.design.plan
        rows = []
        for sev in reversed(plan.severity):
            cells = []
            for prob in plan.probability:
                here = [r.id for r in self.trace.design.risks.values()
                        if _position(r, residual) == (sev.level, prob.level)]
                cells.append({"region": plan.region(sev.level, prob.level),
                              "risks": self.refs(here)})
            rows.append({"severity": sev, "cells": cells})
        return rows

    def risk_label(self, severity: int, probability: int) -> str:
        """``S4 critical x P4 probable: unacceptable``."""
        plan = self.trace.design.plan
        return (f"S{severity} {plan.severity_name(severity)} x P{probability} "
                f"{plan.probability_name(probability)}: {plan.region(severity, probability)}")


def _position(risk: Any, residual: bool) -> tuple[int, int]:
    if residual:
        return risk.residual_severity, risk.residual_probability
    return risk.severity, risk.probability
