"""A released model file, checked and opened on its runtime: ``OnnxModel.load(path)``.

Typical use::

    from pipeline.runtime.model import OnnxModel
    from pipeline.runtime import postprocess
    from pipeline.runtime.sliding import predict_volume

    model = OnnxModel.load("release/models/compressed.onnx")   # checks <file>.sha256
    logits = predict_volume(model, volume, model.spec)          # volume: (C, *spatial) float32,
    mask = postprocess.decide(logits, model.spec)               # volume already preprocessed

``OnnxModel.load`` reads the file's bytes once, compares their SHA-256 with the digest
recorded beside it (``<file>.sha256``) or passed as ``expected_sha256``, and builds the
engine from exactly those bytes, so the checked bytes are the bytes that run. A missing or
different digest raises ``UserError``. The runtime is the one recorded in the file's
metadata (key ``runtime``, chosen by measurement in the compress stage) unless the caller
names another; ``model.spec`` is the ``PreprocessingSpec`` stored under ``preprocessing``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from pipeline.core.errors import UserError
from pipeline.runtime import engines
from pipeline.runtime.integrity import read_sidecar, sidecar_path
from pipeline.runtime.spec import PreprocessingSpec

SPEC_KEY = "preprocessing"
RUNTIME_KEY = "runtime"
ROLES = ("teacher", "compressed")  # the files a release ships; "compressed" only when one qualified


def released_file(folder: Path, role: str) -> Path:
    """The ONNX file of ``role`` in a release's model folder (``paths.models``)."""
    return Path(folder) / f"{role}.onnx"


@dataclass
class OnnxModel:
    """An ONNX file whose bytes matched their recorded SHA-256, ready to run on its runtime."""

    path: Path
    sha256: str
    engine: engines.Engine
    metadata: dict = field(default_factory=dict)
    spec: PreprocessingSpec | None = None

    @classmethod
    def load(cls, path: Path, expected_sha256: str | None = None, threads: int = 2,
             require_spec: bool = True, runtime: str | None = None) -> "OnnxModel":
        """Check and open an ONNX file.

        Args:
            path: the ``.onnx`` file.
            expected_sha256: the digest to require; default: the one in ``<path>.sha256``.
            threads: intra-op threads of the runtime.
            require_spec: fail when the metadata carries no preprocessing specification.
            runtime: run on this runtime instead of the one the file records.
        """
        path = Path(path)
        blob, digest, metadata, spec = read_checked(path, expected_sha256)
        if spec is None and require_spec:
            raise UserError(f"{path} carries no '{SPEC_KEY}' metadata: not exported by this pipeline")
        name = runtime or recorded_runtime(metadata)["name"]
        window = None if spec is None else (spec.sw_batch_size, spec.in_channels, *spec.patch_size)
        engine = engines.open_engine(blob, name, threads, window)
        return cls(path=path, sha256=digest, engine=engine, metadata=metadata, spec=spec)

    @property
    def runtime(self) -> str:
        """The runtime this model runs on."""
        return self.engine.runtime

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Logits for a batch (N, C, *spatial) float32."""
        return self.engine(batch)


def read_checked(path: Path, expected_sha256: str | None = None
                 ) -> tuple[bytes, str, dict[str, str], PreprocessingSpec | None]:
    """A model file's bytes, read once and checked against their recorded SHA-256, with what they
    carry: ``(bytes, sha256, metadata, preprocessing spec or None)``. ``OnnxModel.load`` runs exactly
    these bytes; a missing, unrecorded or different file raises ``UserError``.

    Args:
        path: the ``.onnx`` file.
        expected_sha256: the digest to require; default: the one in ``<path>.sha256``.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    wanted = (expected_sha256 or read_sidecar(path) or "").lower()
    if not wanted:
        raise UserError(f"no SHA-256 recorded for {path} (expected {sidecar_path(path)}): "
                        "refusing to run a model file whose integrity cannot be checked")
    if digest != wanted:
        raise UserError(f"model file {path} fails its checksum: SHA-256 {digest[:16]}... "
                        f"!= recorded {wanted[:16]}... (file changed or substituted)")
    metadata = read_metadata_bytes(blob, path)
    spec = None
    if SPEC_KEY in metadata:
        try:
            spec = PreprocessingSpec.model_validate_json(metadata[SPEC_KEY])
        except ValueError as exc:
            raise UserError(f"{path}: preprocessing metadata is not valid: {exc}") from None
    return blob, digest, metadata, spec


def recorded_runtime(metadata: dict[str, str]) -> dict:
    """``{"name", "version"}`` of the runtime a file records; ONNX Runtime's CPU provider when none."""
    raw = metadata.get(RUNTIME_KEY)
    if not raw:
        return {"name": engines.ORT_CPU, "version": ""}
    try:
        value = json.loads(raw)
        name = str(value["name"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"model metadata '{RUNTIME_KEY}' is not valid: {raw[:200]!r}") from None
    return {"name": name, "version": str(value.get("version", ""))}


def runtime_metadata(runtime: str) -> str:
    """The ``runtime`` metadata value for a file that runs on ``runtime`` (name and installed version)."""
    return json.dumps({"name": runtime, "version": engines.version(runtime)}, sort_keys=True)


def read_metadata_bytes(blob: bytes, path: Path | str = "model") -> dict[str, str]:
    """The ``metadata_props`` of ONNX bytes; ``UserError`` when they are not an ONNX model."""
    try:
        proto = onnx.load_model_from_string(blob)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise UserError(f"{path} is not a readable ONNX model: {type(exc).__name__}: {exc}") from None
    return {entry.key: entry.value for entry in proto.metadata_props}
