"""The ``metadata_props`` every released ONNX file carries, and reading them back."""

from __future__ import annotations

import json

import onnx

from pipeline.runtime import engines
from pipeline.runtime.model import RUNTIME_KEY, SPEC_KEY, runtime_metadata
from pipeline.runtime.spec import PreprocessingSpec

REQUIRED = ("model_version", "model_role", "git_commit", "training_run_id", SPEC_KEY, "label_map",
            "intended_use", "weights_sha256", "producer", RUNTIME_KEY)


def build_metadata(role: str, version: str, git_commit: str, training_run_id: str,
                   spec: PreprocessingSpec, intended_use: str, weights_sha256: str,
                   extra: dict[str, str] | None = None, runtime: str = engines.ORT_CPU) -> dict[str, str]:
    """String key/values for ``metadata_props``.

    Args:
        role: ``teacher`` or ``compressed``.
        version: the model version from params.
        git_commit: the commit the export ran at.
        training_run_id: the MLflow run of the training stage (or ``unknown``).
        spec: the preprocessing specification (stored as JSON).
        intended_use: the intended-use statement.
        weights_sha256: hash of the PyTorch weights the file was exported from.
        extra: further string entries (e.g. the compression method).
        runtime: the runtime the file is to run on (recorded with the installed version).
    """
    label_map = {str(index): name for index, name in enumerate(spec.labels)}
    data = {"model_version": version, "model_role": role, "git_commit": git_commit,
            "training_run_id": training_run_id, SPEC_KEY: spec.model_dump_json(),
            "label_map": json.dumps(label_map, sort_keys=True), "intended_use": intended_use,
            "weights_sha256": weights_sha256, "producer": "pipeline export",
            RUNTIME_KEY: runtime_metadata(runtime)}
    data.update(extra or {})
    return data


def read_metadata(path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without loading its weights into a session)."""
    model = onnx.load(str(path), load_external_data=False)
    return {entry.key: entry.value for entry in model.metadata_props}


def missing_keys(metadata: dict[str, str]) -> list[str]:
    """The required keys a file's metadata lacks."""
    return [key for key in REQUIRED if not metadata.get(key)]
