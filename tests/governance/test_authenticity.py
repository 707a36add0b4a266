"""release verify-files: a recipient checks a shipped copy of a release against keys held apart."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.governance.approvals import approve
from pipeline.governance.authenticity import verify_copy
from pipeline.governance.registry import load_trusted
from tests.governance.conftest import make_key

QA = "quality_assurance"
MEANING = "approved for release"


def _ship(release, dest: Path) -> tuple[Path, Path]:
    """A copy of the release folder and the approval records, as a recipient receives them."""
    shutil.copytree(release.root / "release", dest / "release")
    shutil.copytree(release.root / "governance/approvals", dest / "approvals")
    return dest / "release", dest / "approvals"


def _trusted(release, dest: Path) -> tuple[Path, Path]:
    """The approvers and policy files as held apart from the release (copied at signing time)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("approvers.yaml", "policy.yaml"):
        shutil.copy(release.root / "governance" / name, dest / name)
    return dest / "approvers.yaml", dest / "policy.yaml"


def _check(shipped: Path, approvals: Path, keys: Path, policy: Path) -> list[str]:
    approvers, pol = load_trusted(keys, policy)
    return [f.line() for f in verify_copy(shipped, approvals, approvers, pol, str(keys)).findings]


@pytest.fixture
def approved(release, tmp_path):
    """An approved release shipped to ``tmp_path/shipped``, trusted files in ``tmp_path/trusted``."""
    key = release.register("Jane Doe", QA)
    (release.root / "release/trace/approvals.html").write_text("<html>signatures</html>")
    approve(release.root, key, "Jane Doe", QA, MEANING)
    shipped, approvals = _ship(release, tmp_path / "shipped")
    keys, policy = _trusted(release, tmp_path / "trusted")
    return shipped, approvals, keys, policy


def _cli(shipped, approvals, keys, policy) -> int:
    return main(["release", "verify-files", str(shipped), "--keys", str(keys), "--policy", str(policy),
                 "--approvals", str(approvals)])


@pytest.mark.verifies("SRS-GOV-007")
def test_an_approved_copy_verifies_and_names_the_unsigned_pages(approved, capsys):
    assert _cli(*approved) == 0
    out = capsys.readouterr().out
    assert "4 file(s) match manifest.json" in out and "signed by Jane Doe (quality_assurance)" in out
    assert "not covered by the signatures (they show them): trace/approvals.html" in out


@pytest.mark.verifies("SRS-GOV-007")
def test_a_file_forged_after_signing_is_named(approved, capsys):
    shipped = approved[0]
    (shipped / "models/teacher.onnx").write_bytes(b"another model")
    assert _cli(*approved) == 1
    out = capsys.readouterr().out
    assert "changed: models/teacher.onnx: sha256" in out and "not the released one" in out
    assert "compressed.onnx" not in out


@pytest.mark.verifies("SRS-GOV-007")
def test_an_extra_file_or_a_hidden_one_is_named(approved):
    shipped = approved[0]
    (shipped / "models/extra.onnx").write_bytes(b"x")
    (shipped / "models/.hidden").write_bytes(b"y")
    lines = _check(*approved)
    assert [line.split(": ")[:2] for line in lines] == [["added", "models/.hidden"],
                                                        ["added", "models/extra.onnx"]]


@pytest.mark.verifies("SRS-GOV-007")
def test_a_missing_file_is_named(approved):
    (approved[0] / "techfile/technical_file.html").unlink()
    assert _check(*approved) == ["missing: techfile/technical_file.html: listed in manifest.json but not "
                                 "in the release folder"]


@pytest.mark.verifies("SRS-GOV-007")
def test_a_manifest_edited_after_signing_has_no_signature(approved):
    shipped = approved[0]
    forged = b"a substituted model"
    (shipped / "models/teacher.onnx").write_bytes(forged)
    manifest = json.loads((shipped / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "models/teacher.onnx":
            entry["sha256"], entry["bytes"] = hashlib.sha256(forged).hexdigest(), len(forged)
    (shipped / "manifest.json").write_text(json.dumps(manifest, indent=2))
    lines = _check(*approved)
    assert len(lines) == 1 and lines[0].startswith("unsigned: role quality_assurance: no valid signature")
    assert "manifest.json was changed after signing" in lines[0]


@pytest.mark.verifies("SRS-GOV-007")
def test_a_signature_by_an_untrusted_key_does_not_count(release, tmp_path):
    release.register("Jane Doe", QA)
    keys, policy = _trusted(release, tmp_path / "trusted")  # Jane's real key, held apart
    intruder = make_key(release.keys, "intruder")  # the repository's approvers file replaced
    release.approvers = []
    release.register("Jane Doe", QA, key=intruder)
    approve(release.root, intruder, "Jane Doe", QA, MEANING)
    shipped, approvals = _ship(release, tmp_path / "shipped")
    lines = _check(shipped, approvals, keys, policy)
    assert any(line.startswith("invalid: approvals/") and "but the registered key of Jane Doe is" in line
               for line in lines)
    assert any(line.startswith("unsigned: role quality_assurance") for line in lines)


@pytest.mark.verifies("SRS-GOV-007")
def test_a_signature_not_over_this_release_or_a_missing_role_fails(approved, tmp_path):
    shipped, approvals, keys, policy = approved
    policy.write_text("required_roles: [quality_assurance, regulatory_affairs]\n")
    assert _check(*approved) == [f"unsigned: role regulatory_affairs: no valid signature by a key in {keys} "
                                 f"over manifest.json (sha256 {_sha(shipped)[:12]})"]


def _sha(shipped: Path) -> str:
    return hashlib.sha256((shipped / "manifest.json").read_bytes()).hexdigest()


@pytest.mark.verifies("SRS-GOV-007")
def test_user_mistakes_are_one_clear_message(approved, tmp_path, capsys):
    shipped, approvals, keys, policy = approved
    assert _cli(shipped / "models", approvals, keys, policy) == 2
    assert "is not a release folder: it holds no manifest.json" in capsys.readouterr().err
    assert _cli(tmp_path / "nowhere", approvals, keys, policy) == 2
    assert "release folder" in capsys.readouterr().err
    assert _cli(shipped, approvals, tmp_path / "missing.yaml", policy) == 2
    err = capsys.readouterr().err
    assert "trusted keys file" in err and "not found" in err
    shutil.copy(keys, tmp_path / "trusted/approvers.yaml.bak")
    keys.write_text("approvers: [{name: Jane Doe, role: quality_assurance, public_key: not-a-key}]\n")
    assert _cli(shipped, approvals, keys, policy) == 2
    assert "not an OpenSSH public key line" in capsys.readouterr().err
    inside = shipped / "approvers.yaml"
    shutil.copy(tmp_path / "trusted/policy.yaml", inside)
    assert _cli(shipped, approvals, inside, policy) == 2
    assert "lies inside the release folder" in capsys.readouterr().err
    shutil.copy(tmp_path / "trusted/approvers.yaml.bak", keys)
    assert _cli(shipped, tmp_path / "no-approvals", keys, policy) == 2
    assert "approvals folder" in capsys.readouterr().err


@pytest.mark.verifies("SRS-GOV-007")
def test_a_policy_without_required_roles_authenticates_nothing(approved):
    shipped, approvals, keys, policy = approved
    policy.write_text("required_roles: []\n")
    approvers, pol = load_trusted(keys, policy)
    with pytest.raises(UserError, match="names no required_roles"):
        verify_copy(shipped, approvals, approvers, pol, str(keys))
