"""The ISO 14971 risk management file views: analysis rows, matrices before/after, controls.

Risk levels and acceptability are computed from the plan's matrix (``RiskPlan.region``),
never read from the register. Verification of each control is joined from the trace graph:
implementation by the tests and criteria of the requirements implementing it, effectiveness
by the results of its ``effectiveness_evidence``.
"""

from __future__ import annotations

from pipeline.trace.graph import Trace


def analysis_rows(trace: Trace) -> list[dict]:
    """One row per hazard with initial and residual levels and their computed regions."""
    plan = trace.design.plan
    rows = []
    for risk in trace.design.risks.values():
        rows.append({"item": risk,
                     "initial": _level(plan, risk.severity, risk.probability),
                     "residual": _level(plan, risk.residual_severity, risk.residual_probability)})
    return rows


def matrix(trace: Trace, residual: bool) -> list[dict]:
    """The acceptability matrix, severity from high to low, with the risks placed in it.

    Args:
        trace: the graph (its design set holds plan and hazards).
        residual: place risks by residual (after controls) instead of initial levels.
    """
    plan = trace.design.plan
    rows = []
    for sev in reversed(plan.severity):
        cells = []
        for prob in plan.probability:
            ids = [r.id for r in trace.design.risks.values()
                   if (r.residual_severity if residual else r.severity) == sev.level
                   and (r.residual_probability if residual else r.probability) == prob.level]
            cells.append({"region": plan.region(sev.level, prob.level), "risks": ids})
        rows.append({"level": sev.level, "name": sev.name, "cells": cells})
    return rows


def region_counts(trace: Trace, residual: bool) -> dict[str, int]:
    """How many risks fall in each region, before or after controls."""
    plan = trace.design.plan
    counts = {"acceptable": 0, "alarp": 0, "unacceptable": 0}
    for r in trace.design.risks.values():
        sev, prob = (r.residual_severity, r.residual_probability) if residual else (r.severity, r.probability)
        counts[plan.region(sev, prob)] += 1
    return counts


def control_rows(trace: Trace, criteria_status: dict[str, str]) -> list[dict]:
    """One row per risk control: implementing requirements, their verification, effectiveness.

    Args:
        trace: the graph.
        criteria_status: criterion ID -> PASS / FAIL / INCONCLUSIVE from ``vnv.json``.
    """
    rows = []
    for control in trace.design.controls.values():
        implementers = trace.implemented_by(control.id)
        verification = []
        for req in implementers:
            tests, criteria = trace.verifiers(req)
            statuses = [t.status for t in tests]
            worst = "failed" if "failed" in statuses else "missing" if set(statuses) - {"passed"} else "passed"
            verification.append({"requirement": req, "tests": len(tests),
                                 "passed": statuses.count("passed"), "status": worst,
                                 "criteria": [(c, criteria_status.get(c, "missing")) for c in criteria]})
        effectiveness = [(ref, _evidence_status(trace, ref, criteria_status))
                         for ref in control.effectiveness_evidence]
        risks = [r.id for r in trace.design.risks.values() if control.id in r.controls]
        rows.append({"item": control, "risks": risks, "implemented_by": implementers,
                     "verification": verification, "effectiveness": effectiveness})
    return rows


def _evidence_status(trace: Trace, ref: str, criteria_status: dict[str, str]) -> str:
    if ref in trace.design.criteria:
        return criteria_status.get(ref, "missing")
    tests, criteria = trace.verifiers(ref)
    statuses = [t.status for t in tests] + [criteria_status.get(c, "missing") for c in criteria]
    if not statuses:
        return "missing"
    if any(s in ("failed", "FAIL") for s in statuses):
        return "failed"
    if any(s in ("passed", "PASS") for s in statuses):
        return "passed"
    return "missing"


def _level(plan, severity: int, probability: int) -> dict:
    return {"severity": severity, "probability": probability,
            "severity_name": plan.severity_name(severity),
            "probability_name": plan.probability_name(probability),
            "region": plan.region(severity, probability)}
