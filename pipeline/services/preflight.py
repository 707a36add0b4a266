"""What the services need on this machine, checked before anything starts."""

from __future__ import annotations

import os
import pwd

from pipeline.core.errors import UserError


def missing() -> list[str]:
    """One line per missing prerequisite (empty when the services can start here)."""
    from pipeline.services import objectstore, postgres

    problems = []
    for check in (postgres.bindir, objectstore.weed_binary):
        try:
            check()
        except UserError as exc:
            problems.append(str(exc))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            problems.append("running as root, PostgreSQL needs the system user 'postgres'")
    return problems
