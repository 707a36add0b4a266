"""OpenSSH signatures (``ssh-keygen -Y sign`` / ``-Y verify``), the format git signs commits with.

The cryptography is OpenSSH's; this module only runs it, reads the public key a signature
carries (the SSHSIG blob's second field) and computes key fingerprints the way ``ssh-keygen -l``
prints them (``SHA256:`` + unpadded base64 of the SHA-256 of the key blob).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from pipeline.core.errors import UserError

KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")
ARMOR = ("-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----")
PRINCIPAL = "approver"  # the identity checked against a one-line allowed-signers file


def sign(data: bytes, key: Path, namespace: str) -> str:
    """The armored OpenSSH signature of ``data`` made with a private key file.

    Args:
        data: the bytes to sign.
        key: the private key file (or its ``.pub`` when the key is held by ssh-agent).
        namespace: the signature's purpose, bound into it (``-n``).
    """
    key = Path(key)
    if not key.is_file():
        raise UserError(f"signing key {key} not found (give the private key file, as for git's "
                        "user.signingkey)")
    done = subprocess.run([_ssh_keygen(), "-Y", "sign", "-f", str(key), "-n", namespace],
                          input=data, capture_output=True, check=False)
    text = done.stdout.decode("ascii", "replace")
    if done.returncode != 0 or ARMOR[0] not in text:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UserError(f"ssh-keygen could not sign with {key}: {why[-1] if why else 'no output'}")
    return text.strip() + "\n"


def verify(data: bytes, signature: str, public_key: str, namespace: str) -> str | None:
    """``None`` when ``signature`` is a good signature of ``data`` by ``public_key``; else why not.

    Args:
        data: the signed bytes.
        signature: the armored signature.
        public_key: the registered OpenSSH public key line.
        namespace: the namespace the signature must have been made for.
    """
    try:
        key_type, blob = parse_public_key(public_key)
    except UserError as exc:
        return str(exc)
    with tempfile.TemporaryDirectory(prefix="sshsig-") as tmp:
        signers, sig = Path(tmp) / "allowed_signers", Path(tmp) / "data.sig"
        signers.write_text(f"{PRINCIPAL} {key_type} {blob}\n")
        sig.write_text(signature)
        done = subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", str(signers), "-I", PRINCIPAL,
                               "-n", namespace, "-s", str(sig)], input=data, capture_output=True,
                              check=False)
    if done.returncode == 0:
        return None
    lines = (done.stderr + done.stdout).decode("utf-8", "replace").strip().splitlines()
    return "signature does not verify" + (f" ({lines[-1].strip()})" if lines else "")


def signature_public_key(signature: str) -> str:
    """The public key (``type base64``) a signature was made with, read from the SSHSIG blob.

    Args:
        signature: the armored signature.
    """
    body = signature.strip()
    if not (body.startswith(ARMOR[0]) and body.endswith(ARMOR[1])):
        raise UserError("not an armored OpenSSH signature")
    try:
        blob = base64.b64decode("".join(body[len(ARMOR[0]):-len(ARMOR[1])].split()), validate=True)
    except (binascii.Error, ValueError):
        raise UserError("the OpenSSH signature is not valid base64") from None
    if blob[:6] != b"SSHSIG" or len(blob) < 14:
        raise UserError("not an SSHSIG signature")
    try:
        key_blob, _ = _string(blob, 10)
        key_type, _ = _string(key_blob, 0)
    except ValueError:
        raise UserError("the SSHSIG signature is truncated") from None
    return f"{key_type.decode('ascii', 'replace')} {base64.b64encode(key_blob).decode('ascii')}"


def parse_public_key(line: str) -> tuple[str, str]:
    """``(type, base64 blob)`` of one OpenSSH public key line (a comment may follow).

    Args:
        line: e.g. ``ssh-ed25519 AAAAC3Nza... jane@example.org``.
    """
    parts = str(line).split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise UserError(f"not an OpenSSH public key line: {str(line)[:40]!r} (expected e.g. "
                        "'ssh-ed25519 AAAA... comment', as in ~/.ssh/id_ed25519.pub)")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        inner, _ = _string(blob, 0)
    except (binascii.Error, ValueError, struct.error):
        raise UserError(f"public key {parts[0]} {parts[1][:16]}... is not valid base64 key data") from None
    if inner.decode("ascii", "replace") != parts[0] and not parts[0].startswith("rsa-sha2"):
        raise UserError(f"public key says {parts[0]} but its data holds a {inner.decode('ascii', 'replace')} key")
    return parts[0], parts[1]


def fingerprint(public_key: str) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it.

    Args:
        public_key: an OpenSSH public key line.
    """
    _, blob = parse_public_key(public_key)
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated SSH string")
    (length,) = struct.unpack(">I", blob[offset:offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated SSH string")
    return blob[offset + 4:end], end


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise UserError("ssh-keygen (OpenSSH 8.1 or later) is needed to sign and verify approvals: "
                        "install openssh-client")
    return found
