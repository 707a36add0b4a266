"""release approve / revoke / verify: signatures bound to the exact release (throw-away keys)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import yaml

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.governance.approvals import approve, revoke
from pipeline.governance.verify import verify_release
from tests.governance.conftest import make_key

QA, RA = "quality_assurance", "regulatory_affairs"
MEANING = "approved for release"


def _lines(release) -> list[str]:
    return [f.line() for f in verify_release(release.root)]


@pytest.mark.verifies("SRS-GOV-001", "SRS-GOV-002")
def test_approve_then_verify_exits_0(release, capsys):
    key = release.register("Jane Doe", QA)
    args = ["release", "approve", "--root", str(release.root), "--key", str(key), "--signer", "Jane Doe",
            "--role", QA, "--meaning", MEANING]
    assert main(["release", "verify", "--root", str(release.root)]) == 1
    assert main(args) == 0
    assert main(["release", "verify", "--root", str(release.root)]) == 0
    assert "approved by Jane Doe (quality_assurance)" in capsys.readouterr().out
    record = json.loads(release.approvals()[0].read_text())["payload"]
    assert record["signer"] == "Jane Doe" and record["role"] == QA and record["meaning"] == MEANING
    assert record["signed_at"].endswith("Z") and record["key_fingerprint"].startswith("SHA256:")


@pytest.mark.verifies("SRS-GOV-002")
def test_one_changed_byte_after_approval_names_the_file(release, capsys):
    key = release.register("Jane Doe", QA)
    approve(release.root, key, "Jane Doe", QA, MEANING)
    model = release.root / "release/models/compressed.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"X")
    assert main(["release", "verify", "--root", str(release.root)]) == 1
    out = capsys.readouterr().out
    assert "stale: release/models/compressed.onnx: changed" in out
    assert "teacher.onnx" not in out


@pytest.mark.verifies("SRS-GOV-002")
def test_a_rerendered_release_needs_a_new_approval_and_names_what_changed(release):
    key = release.register("Jane Doe", QA)
    approve(release.root, key, "Jane Doe", QA, MEANING)
    (release.root / "release/trace/new.html").write_text("a page added after approval")
    release.render()
    lines = _lines(release)
    assert any(line.startswith("stale: release/trace/new.html: was added") for line in lines)
    assert any(line.startswith("missing: role quality_assurance: no valid signature") for line in lines)


@pytest.mark.verifies("SRS-GOV-002")
def test_every_required_role_must_sign(release):
    key = release.register("Jane Doe", QA)
    release.register("Rick Roe", RA)
    release.required = [QA, RA]
    release.write_governance()
    approve(release.root, key, "Jane Doe", QA, MEANING)
    assert _lines(release) == [_lines(release)[0]] and _lines(release)[0].startswith(f"missing: role {RA}:")


@pytest.mark.verifies("SRS-GOV-002")
def test_an_altered_record_or_manifest_copy_is_invalid(release):
    key = release.register("Jane Doe", QA)
    path = approve(release.root, key, "Jane Doe", QA, MEANING)
    record = json.loads(path.read_text())
    record["payload"]["meaning"] = "reviewed, not approved"
    path.write_text(json.dumps(record))
    lines = _lines(release)
    assert any(line.startswith(f"invalid: governance/approvals/{path.name}") and "does not verify" in line
               for line in lines)
    assert lines[-1].startswith("missing: role quality_assurance")
    record["payload"]["meaning"] = MEANING
    path.write_text(json.dumps(record))
    assert _lines(release) == []
    copy = path.with_name(path.stem + ".manifest.json")
    copy.write_text(copy.read_text().replace('"draft": false', '"draft": true'))
    assert any("was altered" in line for line in _lines(release))


@pytest.mark.verifies("SRS-GOV-001")
def test_only_the_registered_key_of_a_registered_signer_may_sign(release, capsys):
    key = release.register("Jane Doe", QA)
    other = make_key(release.keys, "mallory")
    with pytest.raises(UserError, match="not the key registered for Jane Doe"):
        approve(release.root, other, "Jane Doe", QA, MEANING)
    with pytest.raises(UserError, match="'Mallory' is not registered with role"):
        approve(release.root, other, "Mallory", QA, MEANING)
    assert main(["release", "approve", "--root", str(release.root), "--key", str(key), "--signer",
                 "Jane Doe", "--role", RA, "--meaning", MEANING]) == 2
    assert "not registered with role 'regulatory_affairs'" in capsys.readouterr().err
    assert release.approvals() == []


@pytest.mark.verifies("SRS-GOV-001")
def test_a_signature_by_a_key_registered_to_someone_else_does_not_count(release):
    key = release.register("Jane Doe", QA)
    path = approve(release.root, key, "Jane Doe", QA, MEANING)
    mallory = make_key(release.keys, "mallory")
    release.approvers[0]["public_key"] = mallory.with_suffix(".pub").read_text().strip()
    release.write_governance()
    assert any(f"invalid: governance/approvals/{path.name}" in line and "registered key" in line
               for line in _lines(release))


@pytest.mark.verifies("SRS-GOV-001")
def test_draft_or_drifted_releases_and_unlisted_meanings_are_refused(release):
    key = release.register("Jane Doe", QA)
    release.render(draft=True)
    with pytest.raises(UserError, match="is a draft"):
        approve(release.root, key, "Jane Doe", QA, MEANING)
    release.render()
    (release.root / "release/models/teacher.onnx").write_bytes(b"swapped")
    with pytest.raises(UserError, match="release/models/teacher.onnx changed"):
        approve(release.root, key, "Jane Doe", QA, MEANING)
    release.render()
    (release.root / "governance/policy.yaml").write_text(yaml.safe_dump(
        {"required_roles": [QA], "meanings": ["approved for release"]}))
    with pytest.raises(UserError, match="meaning 'looks fine' is not one of"):
        approve(release.root, key, "Jane Doe", QA, "looks fine")


@pytest.mark.verifies("SRS-GOV-001", "SRS-GOV-002")
def test_revocation_with_reason_withdraws_the_approval(release, capsys):
    key = release.register("Jane Doe", QA)
    path = approve(release.root, key, "Jane Doe", QA, MEANING,
                   now=datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc))
    assert path.name == "20261126T070000Z-quality-assurance-jane-doe.json"
    assert main(["release", "revoke", path.stem, "--root", str(release.root), "--key", str(key), "--signer",
                 "Jane Doe", "--role", QA, "--reason", "signed the wrong build"]) == 0
    lines = _lines(release)
    assert lines[0].startswith(f"revoked: governance/approvals/{path.name}: revoked by Jane Doe")
    assert "signed the wrong build" in lines[0] and lines[1].startswith("missing: role quality_assurance")
    with pytest.raises(UserError, match="already revoked"):
        revoke(release.root, path.stem, key, "Jane Doe", QA, "again")


@pytest.mark.verifies("SRS-GOV-001")
def test_a_revoked_key_signs_no_more(release):
    key = release.register("Jane Doe", QA)
    approve(release.root, key, "Jane Doe", QA, MEANING)
    release.approvers[0]["revoked"] = "laptop stolen 2026-11-26"
    release.write_governance()
    assert any("was revoked: laptop stolen" in line for line in _lines(release))
    with pytest.raises(UserError, match="revoked"):
        approve(release.root, key, "Jane Doe", QA, MEANING)


@pytest.mark.verifies("SRS-GOV-001")
def test_bad_governance_files_are_one_clear_message(release, capsys):
    (release.root / "governance/approvers.yaml").write_text(yaml.safe_dump(
        {"approvers": [{"name": "Jane Doe", "role": QA, "public_key": "not a key"}]}))
    assert main(["release", "verify", "--root", str(release.root)]) == 1
    assert "not an OpenSSH public key line" in capsys.readouterr().out
    key = release.register("Jane Doe", QA)
    (release.root / "governance/policy.yaml").unlink()
    with pytest.raises(UserError, match="policy.yaml not found"):
        approve(release.root, key, "Jane Doe", QA, MEANING)


@pytest.mark.verifies("SRS-GOV-002")
def test_a_signature_whose_meaning_does_not_approve_is_recorded_but_approves_nothing(release):
    key = release.register("Jane Doe", QA)
    (release.root / "governance/policy.yaml").write_text(yaml.safe_dump(
        {"required_roles": [QA], "meanings": [MEANING, "reviewed, not approved"],
         "approving_meanings": [MEANING]}))
    approve(release.root, key, "Jane Doe", QA, "reviewed, not approved")
    lines = _lines(release)
    assert "which does not approve a release" in lines[0] and lines[1].startswith("missing: role quality_assurance")
    approve(release.root, key, "Jane Doe", QA, MEANING, now=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert _lines(release) == []
