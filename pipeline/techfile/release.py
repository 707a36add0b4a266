"""How the release was built and whether it may be released.

The build identity (git commit and its date, the hash of ``dvc.lock``'s evidence stages) comes
from the repository, never the wall clock. The release status combines the V&V decision
(``vnv.json``) with the trace gates (``pipeline.trace.gates.check``): any failed criterion or any
trace problem makes the release not releasable, and the reasons are listed; a release whose
only problem is that it was rendered from uncommitted changes is a ``draft``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.core.provenance import evidence_lock_sha256, head_commit, uncommitted_changes
from pipeline.trace.gates import Problem

RELEASABLE, NOT_RELEASABLE, DRAFT = "releasable", "not releasable", "draft"


def build_identity(root: Path, dvc_lock: Path) -> dict:
    """Git commit, commit date, uncommitted changes and evidence ``dvc.lock`` SHA-256 at ``root``.

    Args:
        root: the repository root.
        dvc_lock: the lock file (must exist: the release is built by ``dvc repro``).
    """
    commit = head_commit(Path(root))
    if commit is None:
        raise UserError(f"{root} is not a git checkout: the release date and identity come "
                        "from the git commit")
    done = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%cI", commit],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise UserError(f"cannot read the commit date in {root}: {done.stderr.strip()}")
    if not Path(dvc_lock).is_file():
        raise UserError(f"missing input: {dvc_lock} not found; run dvc repro first")
    date = done.stdout.strip()
    changes = uncommitted_changes(Path(root), os.path.relpath(dvc_lock, root))
    return {"commit": commit, "date": date, "day": date[:10], "draft": bool(changes),
            "changed_files": changes or [], "dvc_lock_sha256": evidence_lock_sha256(Path(dvc_lock))}


def release_status(vnv: dict, problems: list[Problem], models: list[dict],
                   junit: str | None = None) -> dict:
    """The overall status and every reason that blocks it.

    Args:
        vnv: ``vnv.json`` as read by ``inputs.load_vnv``.
        problems: the trace gates' findings.
        models: ``inputs.model_checks`` (a released model differing from the verified one blocks).
        junit: the test report's path when it is missing (``make test`` has not run).
    """
    reasons = []
    if junit is not None:
        reasons.append(f"test report {junit} not found: run make test, then make techfile")
    for model in models:
        if not model["match"]:
            reasons.append(f"released model {model['path']} ({model['released'][:12]}) is not the "
                           f"verified one ({model['verified'][:12]})")
    vnv_status = str(vnv["release_status"])
    failed = sorted(cid for cid, r in vnv["criteria"].items() if r["status"] == "FAIL")
    if vnv_status != RELEASABLE:
        reasons.append(f"V&V release status is '{vnv_status}'"
                       + (f" (failed criteria: {', '.join(failed)})" if failed else ""))
    for problem in problems:
        reasons.append(f"trace {problem.line()}")
    drafts = [p for p in problems if p.gate == "draft"]
    status = RELEASABLE if not reasons else DRAFT if len(drafts) == len(reasons) else NOT_RELEASABLE
    return {"status": status,
            "releasable": not reasons, "vnv_status": vnv_status, "failed_criteria": failed,
            "trace_problems": [{"gate": p.gate, "item": p.item, "message": p.message,
                                "flag": p.flag} for p in problems],
            "reasons": reasons}
