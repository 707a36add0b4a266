"""Where governance records live, and where the release files they refer to are (relative to the root;
the release folder and manifest as ``params.yaml``'s ``paths`` name them)."""

from __future__ import annotations

from pathlib import Path

from pipeline.params import repo_paths

GOVERNANCE = Path("governance")
APPROVERS = GOVERNANCE / "approvers.yaml"
POLICY = GOVERNANCE / "policy.yaml"
APPROVALS = GOVERNANCE / "approvals"
SOUP_REVIEWS = GOVERNANCE / "soup_reviews"
CHANGE_RULES = GOVERNANCE / "change_rules.yaml"
CHANGES_NAME = "changes"  # the change report's folder inside the release folder (``release diff``)
# Pages showing the signatures over the manifest: never listed in it (relative to the release folder).
UNSIGNED_PAGES = ("trace/approvals.html", "techfile/approvals.html")


def release(root: Path) -> Path:
    """The release folder (``paths.release`` of the ``params.yaml`` at ``root``), relative to it."""
    return Path(repo_paths(root).release)


def manifest(root: Path) -> Path:
    """The release manifest (``paths.manifest``), relative to ``root``."""
    return Path(repo_paths(root).manifest)
