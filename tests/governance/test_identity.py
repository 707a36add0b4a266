"""An approval never changes what it signs: the pages showing it are outside the manifest, and a
commit that only adds approval records keeps the release's identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.core.provenance import head_commit
from pipeline.techfile.manifest import released_files


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.verifies("SRS-GOV-003")
def test_commits_that_only_add_approvals_keep_the_release_commit(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "release")
    release = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "governance/approvals").mkdir(parents=True)
    (tmp_path / "governance/approvals/a.json").write_text("{}")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "approval")
    assert _git(tmp_path, "rev-parse", "HEAD") != release
    assert head_commit(tmp_path) == release
    (tmp_path / "dvc.yaml").write_text("stages: {a: {cmd: echo}}\n")
    _git(tmp_path, "commit", "-qam", "a change")
    assert head_commit(tmp_path) == _git(tmp_path, "rev-parse", "HEAD")


@pytest.mark.verifies("SRS-GOV-003")
def test_the_approval_pages_are_not_listed_in_the_manifest(tmp_path):
    for rel in ("trace/index.html", "trace/approvals.html", "techfile/approvals.html",
                "techfile/technical_file.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    listed = [f["path"] for f in released_files(tmp_path, tmp_path / "manifest.json")]
    assert listed == ["techfile/technical_file.html", "trace/index.html"]
