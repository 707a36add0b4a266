"""OpenSSH signatures: fingerprints as ssh-keygen prints them, namespaces that keep kinds apart."""

from __future__ import annotations

import subprocess

import pytest

from pipeline.core.errors import UserError
from pipeline.governance import sshsig
from tests.governance.conftest import make_key


@pytest.mark.verifies("SRS-GOV-001")
def test_fingerprint_and_signer_key_match_ssh_keygen(tmp_path):
    key = make_key(tmp_path, "k")
    public = key.with_suffix(".pub").read_text()
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(key.with_suffix(".pub"))], check=True,
                            capture_output=True, text=True).stdout.split()[1]
    assert sshsig.fingerprint(public) == listed
    signature = sshsig.sign(b"payload", key, "pipeline-release-approval")
    assert sshsig.fingerprint(sshsig.signature_public_key(signature)) == listed
    assert sshsig.verify(b"payload", signature, public, "pipeline-release-approval") is None
    assert sshsig.verify(b"payload!", signature, public, "pipeline-release-approval") is not None
    assert sshsig.verify(b"payload", signature, public, "pipeline-soup-review") is not None


@pytest.mark.verifies("SRS-GOV-001")
def test_bad_keys_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not an OpenSSH public key line"):
        sshsig.parse_public_key("ssh-ed25519")
    with pytest.raises(UserError, match="not found"):
        sshsig.sign(b"x", tmp_path / "missing", "ns")
    with pytest.raises(UserError, match="not an armored OpenSSH signature"):
        sshsig.signature_public_key("hello")
