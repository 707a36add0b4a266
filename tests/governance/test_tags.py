"""release tag / verify-tag: the release commit signed with git's SSH signing (throw-away repo and keys)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.governance.registry import load_approvers
from pipeline.governance.tags import check_tag, tag_release
from pipeline.techfile.manifest import write_manifest
from tests.governance.conftest import BUILD, make_key
from tests.paths import PATHS

QA = "quality_assurance"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(release, monkeypatch):
    """The release's root as a git repository whose manifest names its commit; Jane may sign."""
    for var, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.org"),
                       ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.org")):
        monkeypatch.setenv(var, value)
    release.key = release.register("Jane Doe", QA)
    root = release.root
    (root / ".gitignore").write_text(f"/{PATHS.release}/\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "the release")
    build = {**BUILD, "commit": _git(root, "rev-parse", "HEAD")}
    write_manifest(root / PATHS.manifest, root / PATHS.release, build,
                   {"status": "releasable", "reasons": []}, {})
    return release


def _verify(repo, tag: str, *extra: str) -> int:
    return main(["release", "verify-tag", tag, "--repo", str(repo.root), "--keys",
                 str(repo.root / "governance/approvers.yaml"), *extra])


@pytest.mark.verifies("SRS-GOV-008")
def test_a_signed_release_tag_verifies_against_the_approvers(repo, capsys):
    assert main(["release", "tag", "v1.0.0", "--root", str(repo.root), "--key", str(repo.key)]) == 0
    assert "signed by jane-doe/quality_assurance" in capsys.readouterr().out
    assert _verify(repo, "v1.0.0", "--release", str(repo.root / PATHS.release)) == 0
    out = capsys.readouterr().out
    sha = hashlib.sha256((repo.root / PATHS.manifest).read_bytes()).hexdigest()
    assert f"manifest sha256 {sha}" in out and _git(repo.root, "rev-parse", "HEAD") in out


@pytest.mark.verifies("SRS-GOV-008")
def test_a_tag_signed_by_another_key_is_refused(repo, capsys):
    intruder = make_key(repo.keys, "intruder")
    _git(repo.root, "-c", "gpg.format=ssh", "-c", f"user.signingkey={intruder}",
         "tag", "-s", "v1.0.0", "-m", "forged")
    check = check_tag(repo.root, "v1.0.0", load_approvers(repo.root))
    assert check.state == "bad" and "not by a trusted key" in check.detail
    assert _verify(repo, "v1.0.0") == 1
    assert "tag v1.0.0: bad:" in capsys.readouterr().out


@pytest.mark.verifies("SRS-GOV-008")
def test_tagging_with_an_unregistered_key_leaves_no_tag(repo):
    intruder = make_key(repo.keys, "intruder")
    with pytest.raises(UserError, match="does not verify against governance/approvers.yaml"):
        tag_release(repo.root, "v1.0.0", intruder)
    assert _git(repo.root, "tag", "--list") == ""


@pytest.mark.verifies("SRS-GOV-008")
def test_a_missing_or_unsigned_tag_is_a_reported_state(repo, capsys):
    approvers = load_approvers(repo.root)
    assert check_tag(repo.root, "v9", approvers).state == "missing"
    _git(repo.root, "tag", "light")
    _git(repo.root, "tag", "-a", "annotated", "-m", "not signed")
    assert check_tag(repo.root, "light", approvers).state == "unsigned"
    assert check_tag(repo.root, "annotated", approvers).state == "unsigned"
    assert _verify(repo, "v9") == 1
    assert "tag v9: missing: no tag v9" in capsys.readouterr().out


@pytest.mark.verifies("SRS-GOV-008")
def test_a_good_tag_of_another_release_does_not_authenticate_this_one(repo, capsys):
    tag_release(repo.root, "v1.0.0", repo.key)
    model = repo.root / PATHS.release / "models/teacher.onnx"
    model.write_bytes(b"another model")
    repo.render()  # a manifest the tag does not name
    assert _verify(repo, "v1.0.0", "--release", str(repo.root / PATHS.release)) == 1
    out = capsys.readouterr().out
    assert "names manifest sha256" in out and "the manifest was rendered from" in out


@pytest.mark.verifies("SRS-GOV-008")
def test_tagging_refuses_a_checkout_that_is_not_the_release_commit(repo):
    (repo.root / "new.txt").write_text("a change after rendering")
    _git(repo.root, "add", ".")
    _git(repo.root, "commit", "-qm", "a change")
    with pytest.raises(UserError, match="is not the commit"):
        tag_release(repo.root, "v1.0.0", repo.key)
    with pytest.raises(UserError, match="not a git repository"):
        check_tag(repo.root.parent / "keys", "v1", load_approvers(repo.root))
