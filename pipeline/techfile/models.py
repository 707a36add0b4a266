"""The released model files as the documents name them, read from each file's own ONNX metadata.

The device software has one version (``pyproject.toml``); each model file it ships carries a model
version of its own (``model_version``, written by the export stage). The documents show both,
each named for what it identifies, so "software 0.1.0" and "model 1.0.0" are never read as two
versions of one thing. The file's inputs and outputs are its interface to ``predict``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.errors import UserError

IDENTITY_KEYS = ("model_version", "model_role", "training_run_id", "git_commit", "weights_sha256")


def model_identity(path: Path) -> dict[str, Any] | None:
    """Identity, metadata keys and I/O of one released ONNX file; ``None`` when it is absent.

    Args:
        path: the released ``.onnx`` file.
    """
    if not Path(path).is_file():
        return None
    import onnx  # only where a model file is described

    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means the same to the reader
        raise UserError(f"{path} is not a readable ONNX file: {exc}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if not meta.get("model_version"):
        raise UserError(f"{path} records no model_version in its ONNX metadata (written by the export stage)")
    runtime = _json(meta.get("runtime"))
    return {**{k: meta.get(k) for k in IDENTITY_KEYS},
            "runtime": f"{runtime.get('name', '?')} {runtime.get('version', '')}".strip()
            if isinstance(runtime, dict) else None,
            "metadata_keys": sorted(meta),
            "opset": max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None),
            "inputs": [_value_info(v) for v in proto.graph.input],
            "outputs": [_value_info(v) for v in proto.graph.output]}


def identities(root: Path, checks: list[dict]) -> list[dict[str, Any]]:
    """Each verified model (``inputs.model_checks`` rows) with its file's identity.

    Args:
        root: the repository root the model paths are relative to.
        checks: rows with ``name`` and ``path``.
    """
    return [{**c, "identity": model_identity(Path(root) / c["path"])} for c in checks]


def versions(software: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    """The device software version and the model version of each released file.

    Args:
        software: ``project.version`` of ``pyproject.toml``.
        models: from ``identities``.
    """
    found = {m["name"]: m["identity"]["model_version"] for m in models if m["identity"]}
    return {"software": software, "models": found,
            "model_versions": sorted(set(found.values())),
            "missing": sorted(m["name"] for m in models if not m["identity"])}


def _value_info(value) -> dict[str, Any]:
    tensor = value.type.tensor_type
    import onnx

    dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
    return {"name": value.name, "type": onnx.TensorProto.DataType.Name(tensor.elem_type).lower(),
            "shape": dims}


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text
