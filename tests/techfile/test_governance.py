"""The technical file's release approval and change sections, and re-rendering after approval."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.governance.approvals import approve
from pipeline.governance.changes import write_report
from pipeline.governance.diff import diff_release
from pipeline.governance.verify import verify_release
from pipeline.techfile import stage
from pipeline.techfile.context import TechfilePaths
from tests.techfile.fixture import PARAMS, REPO, make_run
from tests.paths import PATHS

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (OpenSSH) not installed")


@pytest.fixture(scope="module")
def approved(tmp_path_factory):
    """A committed recorded run with a registered approver, rendered and approved: ``(root, config, key)``."""
    base = tmp_path_factory.mktemp("techfile-governance")
    root, key = base / "repo", base / "qa_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (root / "governance").mkdir(parents=True)
    shutil.copy(REPO / "governance/change_rules.yaml", root / "governance/change_rules.yaml")
    (root / "governance/policy.yaml").write_text(yaml.safe_dump({"required_roles": ["quality_assurance"]}))
    (root / "governance/approvers.yaml").write_text(yaml.safe_dump({"approvers": [
        {"name": "Jane Doe", "role": "quality_assurance", "public_key": key.with_suffix(".pub").read_text()}]}))
    config = make_run(root)
    stage.run(PARAMS, TechfilePaths(root, PATHS), config, pdf=False)
    approve(root, key, "Jane Doe", "quality_assurance", "approved for release")
    return root, config, key


def _snapshot(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


@pytest.mark.verifies("SRS-GOV-003")
def test_rerendering_after_a_committed_approval_changes_nothing_it_signs(approved):
    root, config, _ = approved
    before = _snapshot(root / "release")
    env = {"GIT_AUTHOR_NAME": "qa", "GIT_AUTHOR_EMAIL": "qa@example.invalid", "GIT_COMMITTER_NAME": "qa",
           "GIT_COMMITTER_EMAIL": "qa@example.invalid", "PATH": "/usr/bin:/bin"}
    for cmd in (["add", "governance/approvals"], ["commit", "-q", "-m", "approval"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True, env=env, capture_output=True)
    stage.run(PARAMS, TechfilePaths(root, PATHS), config, pdf=False)
    after = _snapshot(root / "release")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert changed == ["techfile/approvals.html"]  # the page showing the signatures, outside the manifest
    assert verify_release(root) == []
    page = after["techfile/approvals.html"].decode()
    assert "Jane Doe" in page and "approved for release" in page and "SHA256:" in page
    assert "<td>yes</td>" in page


@pytest.mark.verifies("SRS-GOV-003", "SRS-GOV-004")
def test_the_book_shows_the_approval_policy_and_the_changes_since_the_previous_release(approved):
    root, config, _ = approved
    html = (root / PATHS.techfile / "technical_file.html").read_text()
    section = html[html.index('<section id="release-approval"'):]
    assert "quality_assurance" in section and "Jane Doe" in section and 'href="approvals.html"' in section
    assert "No change report was produced" in html
    reqs = root / "requirements/software/all.yaml"
    items = yaml.safe_load(reqs.read_text())
    items[0]["text"] = items[0]["text"] + " Edited for the next release."
    reqs.write_text(yaml.safe_dump(items, sort_keys=False))
    write_report(diff_release(root, "HEAD"), root / "release/changes")
    try:
        stage.run(PARAMS, TechfilePaths(root, PATHS), config, pdf=False)
        html = (root / PATHS.techfile / "technical_file.html").read_text()
        changes = html[html.index('<section id="release-changes"'):html.index('<section id="release-approval"')]
        assert items[0]["id"] in changes and "Edited for the next release." in changes
        assert "PCCP impact assessment: new submission needed" in changes
    finally:
        subprocess.run(["git", "-C", str(root), "checkout", "--", "requirements"], check=True)
        shutil.rmtree(root / "release/changes")
