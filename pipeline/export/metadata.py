"""The ``metadata_props`` every released ONNX file carries, and reading them back.

Besides what identifies the model (version, commit, training run, preprocessing, labels,
runtime), a file carries the acquisition ranges of the data it was developed and tested on
(``acquisition_ranges``: voxel spacing and image size per axis, from the preprocess stage's
fingerprint), so ``predict`` can check an input against the intended use with nothing but the
model file. The record's model (``AcquisitionRanges``) lives here, beside its writer; files
exported before it existed lack the key and ``read_acquisition_ranges`` returns ``None``.
"""

from __future__ import annotations

import json

import onnx
from pydantic import Field, ValidationError, model_validator

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.runtime import engines
from pipeline.runtime.model import RUNTIME_KEY, SPEC_KEY, runtime_metadata
from pipeline.runtime.spec import PreprocessingSpec

RANGES_KEY = "acquisition_ranges"
REQUIRED = ("model_version", "model_role", "git_commit", "training_run_id", SPEC_KEY, "label_map",
            "intended_use", "weights_sha256", "producer", RUNTIME_KEY)


def build_metadata(role: str, version: str, git_commit: str, training_run_id: str,
                   spec: PreprocessingSpec, intended_use: str, weights_sha256: str,
                   extra: dict[str, str] | None = None, runtime: str = engines.ORT_CPU,
                   acquisition: "AcquisitionRanges | None" = None) -> dict[str, str]:
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
        acquisition: the acquisition ranges of the development data (``acquisition_ranges``,
            from ``acquisition_ranges(fingerprint)``); ``None`` leaves the key out.
    """
    label_map = {str(index): name for index, name in enumerate(spec.labels)}
    data = {"model_version": version, "model_role": role, "git_commit": git_commit,
            "training_run_id": training_run_id, SPEC_KEY: spec.model_dump_json(),
            "label_map": json.dumps(label_map, sort_keys=True), "intended_use": intended_use,
            "weights_sha256": weights_sha256, "producer": "pipeline export",
            RUNTIME_KEY: runtime_metadata(runtime)}
    if acquisition is not None:
        data[RANGES_KEY] = acquisition.model_dump_json()
    data.update(extra or {})
    return data


def read_metadata(path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without loading its weights into a session)."""
    model = onnx.load(str(path), load_external_data=False)
    return {entry.key: entry.value for entry in model.metadata_props}


def missing_keys(metadata: dict[str, str]) -> list[str]:
    """The required keys a file's metadata lacks."""
    return [key for key in REQUIRED if not metadata.get(key)]


class AcquisitionRanges(StrictModel):
    """The voxel spacings and image sizes (per axis, canonical order: RAS for 3D) the model was
    developed and tested on: the ``all`` summary of ``metrics/fingerprint.json``."""

    source: str = Field(min_length=1, description="where the ranges come from")
    cases: int = Field(ge=1, description="how many cases the ranges summarise")
    spacing_mm_min: list[float] = Field(min_length=2, max_length=3)
    spacing_mm_max: list[float] = Field(min_length=2, max_length=3)
    shape_min: list[int] = Field(min_length=2, max_length=3)
    shape_max: list[int] = Field(min_length=2, max_length=3)
    manufacturers: list[str] = Field(default_factory=list, description="scanner manufacturers seen")

    @model_validator(mode="after")
    def _consistent(self) -> "AcquisitionRanges":
        dims = {len(self.spacing_mm_min), len(self.spacing_mm_max), len(self.shape_min), len(self.shape_max)}
        if len(dims) != 1:
            raise ValueError("spacing and shape ranges must have one entry per spatial axis")
        if any(low > high for low, high in zip(self.spacing_mm_min, self.spacing_mm_max)) or any(
                low > high for low, high in zip(self.shape_min, self.shape_max)):
            raise ValueError("a range has min > max")
        return self

    @property
    def spatial_dims(self) -> int:
        return len(self.spacing_mm_min)


def acquisition_ranges(fingerprint: dict, source: str) -> AcquisitionRanges:
    """The ranges a model file carries, from the preprocess stage's data-set fingerprint.

    Args:
        fingerprint: the fingerprint JSON (``pipeline.preprocess.fingerprint``); its ``all`` summary
            is used (every case read, before resampling, in canonical axis order).
        source: the fingerprint's path, recorded in the ranges.
    """
    try:
        summary = fingerprint["all"]
        return AcquisitionRanges(
            source=f"{source} (all)", cases=int(summary["cases"]),
            spacing_mm_min=[float(v) for v in summary["spacing_min"]],
            spacing_mm_max=[float(v) for v in summary["spacing_max"]],
            shape_min=[int(v) for v in summary["shape_min"]], shape_max=[int(v) for v in summary["shape_max"]],
            manufacturers=[str(v) for v in summary.get("manufacturers", [])])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{source}: not a data-set fingerprint with spacing and shape ranges "
                        f"({type(exc).__name__}: {exc})") from None


def read_acquisition_ranges(metadata: dict[str, str]) -> AcquisitionRanges | None:
    """The ranges a file's metadata carries; ``None`` for files exported before they were recorded.

    Raises:
        UserError: the key is present but does not hold valid ranges (a damaged file).
    """
    raw = metadata.get(RANGES_KEY)
    if not raw:
        return None
    try:
        return AcquisitionRanges.model_validate_json(raw)
    except ValidationError as exc:
        raise UserError(f"the model's {RANGES_KEY} metadata is not valid: {exc}") from None
