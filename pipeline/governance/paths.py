"""Where governance records and the release files they refer to live (relative to the root)."""

from __future__ import annotations

from pathlib import Path

GOVERNANCE = Path("governance")
APPROVERS = GOVERNANCE / "approvers.yaml"
POLICY = GOVERNANCE / "policy.yaml"
APPROVALS = GOVERNANCE / "approvals"
SOUP_REVIEWS = GOVERNANCE / "soup_reviews"
CHANGE_RULES = GOVERNANCE / "change_rules.yaml"
RELEASE_DIR = Path("release")
MANIFEST = RELEASE_DIR / "manifest.json"
CHANGES_DIR = RELEASE_DIR / "changes"
# Pages showing the signatures over the manifest: never listed in it (relative to RELEASE_DIR).
UNSIGNED_PAGES = ("trace/approvals.html", "techfile/approvals.html")
