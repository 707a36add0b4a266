"""trace check includes release verify: a file changed after approval fails it, naming the file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.governance.approvals import approve
from pipeline.techfile.manifest import write_manifest
from tests.trace.minirepo import MiniRepo

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (OpenSSH) not installed")
BUILD = {"commit": "none", "date": "2026-11-26T00:00:00+00:00", "draft": False, "changed_files": [],
         "dvc_lock_sha256": "0" * 64}


def _approved_repo(root: Path) -> MiniRepo:
    repo = MiniRepo(root).review_all()
    repo.policy = {"required_roles": ["quality_assurance"]}
    key = root.parent / "qa_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (root / "governance").mkdir(exist_ok=True)
    (root / "governance/approvers.yaml").write_text(yaml.safe_dump({"approvers": [
        {"name": "Jane Doe", "role": "quality_assurance", "public_key": key.with_suffix(".pub").read_text()}]}))
    (root / "release/models").mkdir(parents=True)
    (root / "release/models/compressed.onnx").write_bytes(b"the compressed model")
    repo.write()
    write_manifest(root / "release/manifest.json", root / "release", BUILD,
                   {"status": "releasable", "reasons": []}, {})
    approve(root, key, "Jane Doe", "quality_assurance", "approved for release")
    return repo


@pytest.mark.verifies("SRS-GOV-002", "SRS-TRACE-002")
def test_trace_check_fails_naming_a_file_changed_after_approval(tmp_path, capsys):
    repo = _approved_repo(tmp_path / "repo")
    assert main(["trace", "check", "--root", str(repo.root)]) == 0
    model = repo.root / "release/models/compressed.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"X")  # one byte changed
    capsys.readouterr()
    assert main(["trace", "check", "--root", str(repo.root)]) == 1
    out = capsys.readouterr().out
    assert "approval: release/models/compressed.onnx: stale: changed" in out


@pytest.mark.verifies("SRS-GOV-002")
def test_trace_check_without_an_approval_of_a_required_role_fails(tmp_path, capsys):
    repo = MiniRepo(tmp_path / "repo").review_all()
    repo.policy = {"required_roles": ["quality_assurance"]}
    repo.write()
    assert main(["trace", "check", "--root", str(repo.root)]) == 1
    assert "approval: release/manifest.json: missing: not found" in capsys.readouterr().out
    # inside dvc repro (--as-of) the release is not rendered yet: the gate is not applied
    assert main(["trace", "check", "--root", str(repo.root), "--as-of", "read"]) == 0
