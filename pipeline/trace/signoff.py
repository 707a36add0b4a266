"""The sign-off gates that ``trace check`` adds to ``gates.check``: approvals and the SOUP audit.

They are kept out of ``check`` because the documents rendered inside ``dvc repro`` must not depend
on them: an approval signs the rendered release (so it cannot be part of what it signs), and the
SOUP audit's age depends on the day the check runs.
"""

from __future__ import annotations

from datetime import date

from pipeline.trace.gates import Problem
from pipeline.trace.graph import Trace


def approval_problems(trace: Trace) -> list[Problem]:
    """The ``approval`` gate: ``release verify``'s findings (missing, invalid, revoked or stale
    signatures, released files changed since approval).

    Not part of ``check``: the documents rendered inside ``dvc repro`` must not depend on the
    approvals that sign them, or every approval would change what it signs. ``trace check`` adds it.
    """
    from pipeline.governance.verify import verify_release

    return [Problem("approval", f.subject, f"{f.kind}: {f.message}", "failed")
            for f in verify_release(trace.paths.root)]


def soup_audit_problems(trace: Trace, today: date | None = None) -> list[Problem]:
    """The ``soup-audit`` gate: no SOUP vulnerability audit, one older than the policy allows, one
    of other pins than ``requirements.lock``'s, or a finding without an evaluation
    (``pipeline.governance.soup_evaluations``). None for a checkout without a lock file.

    Not part of ``check``, like the approvals: it depends on the day it runs, and the documents
    rendered inside ``dvc repro`` must not. ``trace check`` adds it.
    """
    from pipeline.governance import soup_evaluations as evaluations
    from pipeline.governance.registry import load_policy
    from pipeline.governance.soup_review import LOCK, locked_versions

    root = trace.paths.root
    if not (root / LOCK).is_file():
        return []
    found = evaluations.problems(evaluations.load_audit(root), locked_versions(root / LOCK),
                                 evaluations.load(root).evaluations, today or date.today(),
                                 load_policy(root).soup_audit_max_age_days)
    return [Problem("soup-audit", subject, message, "failed") for subject, message in found]
