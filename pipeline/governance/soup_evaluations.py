"""Each SOUP audit finding evaluated for its effect on the device, and the gate over both.

``governance/soup_vulnerabilities.yaml`` (hand-written, reviewed like code): ``not_covered`` names
SOUP the PyPI audit cannot check (Debian's packages) with the reason, and ``evaluations`` holds one
entry per finding: package, version, finding ID, whether it affects the device (``yes``, ``no``,
``unsure``), the rationale (does the device's use reach the vulnerable code?) and the action
(upgrade the pin, accept with rationale). ``problems`` is the rule ``trace check`` applies: no
audit, an audit older than ``soup_audit_max_age_days`` of ``governance/policy.yaml``, an audit of
other pins than ``requirements.lock``'s, and a finding without an evaluation.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_yaml
from pipeline.governance.soup_audit import AUDIT, SoupAudit
from pipeline.governance.soup_review import canonical

FILE = Path("governance") / "soup_vulnerabilities.yaml"


class NotCovered(StrictModel):
    """SOUP outside the audit's source, and why."""

    name: str = Field(min_length=1)
    reason: str = Field(min_length=10)


class Evaluation(StrictModel):
    """One finding's evaluation for the device."""

    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    finding: str = Field(min_length=1, description="the finding's ID (or one of its aliases)")
    affects_device: Literal["yes", "no", "unsure"]
    rationale: str = Field(min_length=10)
    action: str = Field(min_length=3)
    evaluated_by: str = Field(min_length=2)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class VulnerabilityFile(StrictModel):
    """``governance/soup_vulnerabilities.yaml``."""

    not_covered: list[NotCovered] = Field(default_factory=list)
    evaluations: list[Evaluation] = Field(default_factory=list)


def load(root: Path) -> VulnerabilityFile:
    """The evaluations file (empty when missing); a malformed file is a ``UserError`` naming it."""
    path = Path(root) / FILE
    if not path.is_file():
        return VulnerabilityFile()
    return _validated(VulnerabilityFile, load_yaml(path, "SOUP vulnerability evaluations") or {}, path)


def load_audit(root: Path) -> SoupAudit | None:
    """The recorded audit, or ``None`` when none was recorded."""
    path = Path(root) / AUDIT
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path} is not JSON ({exc}): run `python -m pipeline soup audit` again") from None
    return _validated(SoupAudit, data, path)


def evaluation_of(finding, evaluations: list[Evaluation]) -> Evaluation | None:
    """The evaluation of a finding: same package and version, its ID or one of its aliases."""
    names = {finding.id, *finding.aliases}
    return next((e for e in evaluations if canonical(e.package) == canonical(finding.package)
                 and e.version == finding.version and e.finding in names), None)


def problems(audit: SoupAudit | None, pins: dict[str, str], evaluations: list[Evaluation], today: date,
             max_age_days: int) -> list[tuple[str, str]]:
    """``(subject, message)`` per violated rule (pure).

    Args:
        audit: the recorded audit, or ``None``.
        pins: canonical name -> version of ``requirements.lock``.
        evaluations: of ``governance/soup_vulnerabilities.yaml``.
        today: the date the check runs.
        max_age_days: the policy's ``soup_audit_max_age_days``.
    """
    run = "run `python -m pipeline soup audit`"
    if audit is None:
        return [(str(AUDIT), f"no SOUP vulnerability audit recorded: {run}")]
    out = []
    age = (today - date.fromisoformat(audit.date)).days
    if age > max_age_days:
        out.append((str(AUDIT), f"the SOUP vulnerability audit of {audit.date} is {age} days old; "
                    f"governance/policy.yaml (soup_audit_max_age_days) allows {max_age_days}: {run}"))
    audited = audit.pins()
    changed = sorted(name for name in pins if audited.get(name) != pins[name])
    if changed:
        shown = ", ".join(f"{n}=={pins[n]} (audited: {audited.get(n, 'not at all')})" for n in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        out.append((str(AUDIT), f"requirements.lock pins versions the audit did not check: {shown}{more}: {run}"))
    for finding in audit.findings:
        if evaluation_of(finding, evaluations) is None:
            out.append((f"{finding.package} {finding.version}", f"finding {finding.id} "
                        f"({', '.join(finding.aliases) or 'no aliases'}) has no evaluation in {FILE}"))
    return out


def _validated(model, data, path: Path):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise UserError(f"{path} is not valid: {problems}") from None
