"""Status flags per trace node (``failed``, ``missing``, ``suspect``; none means verified; a stage the
recorded run's data did not pass through, a data profile's skipped stage, is ``not applicable``)."""

from __future__ import annotations

from collections import defaultdict

from pipeline.trace.gates import Problem
from pipeline.trace.graph import Trace

FLAGS = ("failed", "missing", "suspect", "not applicable")
# Gates whose problem also flags the related items (e.g. a failed test flags its requirement).
PROPAGATING = ("failed", "missing", "cycle")
ROLLUP = ("failed", "missing")


def node_flags(trace: Trace, problems: list[Problem]) -> dict[str, set[str]]:
    """Flags of every node: its own problems, propagated ones, and rolled up from children.

    User needs take the failed/missing flags of the requirements deriving from them; risks
    those of their controls.

    Args:
        trace: the graph.
        problems: the result of ``gates.check``.
    """
    flags: dict[str, set[str]] = defaultdict(set)
    for problem in problems:
        flags[problem.item].add(problem.flag)
        if problem.gate in PROPAGATING:
            for node in problem.related:
                flags[node].add(problem.flag)
    for stage in trace.stages.values():
        if stage.outside_run:
            flags[stage.name].add("not applicable")
    for key, test in trace.tests.items():
        if test.status == "missing":
            flags[key].add("missing")
    for need in trace.design.user_needs:
        for child in trace.backlinks.get(need, []):
            if trace.kind(child) == "requirement":
                flags[need] |= flags[child] & set(ROLLUP)
    for risk in trace.design.risks.values():
        for control in risk.controls:
            flags[risk.id] |= flags[control] & set(ROLLUP)
    return flags


def badges(flags: set[str]) -> list[str]:
    """The badges to show, in a fixed order; ``["verified"]`` when there is no flag."""
    return [f for f in FLAGS if f in flags] or ["verified"]
