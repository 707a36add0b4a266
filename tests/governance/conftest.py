"""A rendered release with registered approvers whose throw-away keys are made in the test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.techfile.manifest import write_manifest
from tests.paths import PATHS

if shutil.which("ssh-keygen") is None:  # pragma: no cover - OpenSSH is a system requirement
    pytest.skip("ssh-keygen (OpenSSH) is not installed", allow_module_level=True)

FILES = {"models/compressed.onnx": b"onnx bytes of the compressed model",
         "models/teacher.onnx": b"onnx bytes of the teacher",
         "techfile/technical_file.html": b"<html>the technical file</html>",
         "trace/index.html": b"<html>the trace site</html>"}
BUILD = {"commit": "c0ffee" * 6 + "abcd", "date": "2026-11-26T00:00:00+00:00", "draft": False,
         "changed_files": [], "dvc_lock_sha256": "0" * 64}


def make_key(folder: Path, name: str) -> Path:
    """A new unencrypted Ed25519 key pair ``folder/name`` (+ ``.pub``)."""
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True)
    return key


class Release:
    """``root`` with ``release/`` rendered, ``governance/`` and keys under ``root/../keys``."""

    def __init__(self, root: Path):
        self.root = root
        self.keys = root.parent / "keys"
        self.keys.mkdir(exist_ok=True)
        self.approvers: list[dict] = []
        self.required = ["quality_assurance"]
        (root / "params.yaml").write_text(yaml.safe_dump({"paths": PATHS.model_dump()}))  # where the release is
        for rel, content in FILES.items():
            (root / PATHS.release / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / PATHS.release / rel).write_bytes(content)
        self.render()

    def render(self, draft: bool = False) -> None:
        """Write ``release/manifest.json`` for the files as they are now."""
        write_manifest(self.root / PATHS.manifest, self.root / PATHS.release,
                       {**BUILD, "draft": draft, "changed_files": ["x.py"] if draft else []},
                       {"status": "releasable", "reasons": []}, {})

    def register(self, name: str, role: str, key: Path | None = None, **extra) -> Path:
        """Register ``name`` in ``role`` with a new key (or ``key``); returns the private key."""
        key = key or make_key(self.keys, f"{name.replace(' ', '_')}-{role}")
        self.approvers.append({"name": name, "role": role,
                               "public_key": key.with_suffix(".pub").read_text().strip(), **extra})
        self.write_governance()
        return key

    def write_governance(self) -> None:
        folder = self.root / "governance"
        folder.mkdir(exist_ok=True)
        (folder / "approvers.yaml").write_text(yaml.safe_dump({"approvers": self.approvers}, sort_keys=False))
        (folder / "policy.yaml").write_text(yaml.safe_dump({"required_roles": self.required}))

    def approvals(self) -> list[Path]:
        folder = self.root / "governance/approvals"
        return sorted(p for p in folder.glob("*.json") if p.name.count(".") == 1)


@pytest.fixture
def release(tmp_path: Path) -> Release:
    root = tmp_path / "repo"
    root.mkdir()
    rel = Release(root)
    rel.write_governance()
    return rel
