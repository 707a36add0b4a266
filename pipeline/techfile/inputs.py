"""Recorded evidence, one reader per input; a missing file or metric is a ``UserError`` naming it.

Every stage record is parsed through its model beside the stage that writes it
(``pipeline.<stage>.record``), which names a missing or misspelt field; the documents get the
record as recorded (``as_mapping``: the keys the file has, nothing added), every estimate checked
against its own interval. Everything the documents do not quote is shown as recorded (``flatten``).
"""

from __future__ import annotations

import base64
import hashlib
import math
from pathlib import Path
from typing import Any, Callable, TypeVar

from pydantic import BaseModel

from pipeline.core.errors import UserError
from pipeline.preprocess.records import load_splits as load_splits_record
from pipeline.verify import record as vnv_record

M = TypeVar("M", bound=BaseModel)


def as_mapping(record: BaseModel, path: Path) -> dict:
    """A parsed record as the templates read it: the keys the file has (nothing added by defaults),
    every estimate inside its own interval (``check_intervals``).

    Args:
        record: the record, parsed through its model.
        path: its file, for messages.
    """
    data = record.model_dump(exclude_unset=True)
    check_intervals(data, path)
    return data


def check_intervals(data, path: Path, where: str = "") -> None:
    """Every estimate (a mapping with ``mean``, ``ci_lower`` and ``ci_upper``) must lie inside its
    own interval; one that does not was edited by hand or computed wrongly, and is not rendered."""
    if isinstance(data, dict):
        values = [data.get(k) for k in ("ci_lower", "mean", "ci_upper")]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            low, mean, high = values
            if not low - 1e-9 <= mean <= high + 1e-9:
                raise UserError(f"{path}: {where.lstrip('.')} has mean {mean} outside its own 95 % interval "
                                f"[{low}, {high}]: the file was edited or is corrupt; rerun the stage")
        for key, value in data.items():
            check_intervals(value, path, f"{where}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_intervals(value, path, f"{where}[{index}]")


def load_vnv(path: Path, criteria: list[str]) -> vnv_record.VnvRecord:
    """The verify stage's results (``pipeline.verify.record.VnvRecord``) with every acceptance
    criterion of the V&V plan and at least one evidence image, every estimate inside its interval.

    Args:
        path: ``metrics/vnv.json``.
        criteria: the criterion IDs of the design set, each must have a result.
    """
    record = vnv_record.load_vnv(path)
    for cid in criteria:
        if cid not in record.criteria:
            raise UserError(f"missing metric: {path} has no result for criterion {cid}")
    if not record.evidence:
        raise UserError(f"missing metric: {path} has no evidence (Grad-CAM images)")
    as_mapping(record, path)  # checks the intervals
    return record


def load_evidence(root: Path, evidence: list[dict], source: Path) -> list[dict]:
    """Evidence images named in ``vnv.json``, embedded as ``data:`` URIs (no external assets).

    Args:
        root: the repository root the paths are relative to.
        evidence: ``vnv.json``'s ``evidence`` entries (``path``, ``requirements``, ``caption``).
        source: ``vnv.json``, for the message.
    """
    out = []
    for entry in evidence:
        file = Path(root) / entry["path"]
        if not file.is_file():
            raise UserError(f"missing input: evidence image {entry['path']} (named in {source}) "
                            "not found")
        content = file.read_bytes()
        recorded = entry.get("sha256")
        if recorded is not None and hashlib.sha256(content).hexdigest() != recorded:
            raise UserError(f"evidence image {entry['path']} does not match the SHA-256 recorded in "
                            f"{source}: re-run the verify stage (dvc repro)")
        data = base64.b64encode(content).decode("ascii")
        out.append({"path": str(entry["path"]), "requirements": list(entry.get("requirements", [])),
                    "caption": str(entry.get("caption", "")),
                    "cam_method": str(entry.get("cam_method", "gradcam")),
                    "dilation_mm": entry.get("dilation_mm"),
                    "masses": {key.removesuffix("_mass_in_region"): value for key, value in sorted(entry.items())
                               if key.endswith("_mass_in_region") and value is not None},
                    "uri": f"data:image/png;base64,{data}"})
    return out


def model_checks(root: Path, models: dict, source: Path) -> list[dict]:
    """Each verified model file: the SHA-256 the verify stage recorded and the one released now.

    Args:
        root: the repository root the model paths are relative to.
        models: ``vnv.json``'s ``models`` (name -> ``path``, ``sha256``).
        source: ``vnv.json``, for the message.
    """
    out = []
    for name, entry in sorted(models.items()):
        file = Path(root) / entry["path"]
        current = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "missing"
        out.append({"name": name, "path": str(entry["path"]), "verified": str(entry["sha256"]),
                    "released": current, "match": current == entry["sha256"]})
    return out


def load_metrics(path: Path, load: Callable[[Path], M]) -> M:
    """A stage's record parsed through its model (``load``: the writer's ``load_<record>``), every
    estimate inside its own interval (``as_mapping``)."""
    record = load(path)
    as_mapping(record, path)
    return record


def load_splits(path: Path) -> dict:
    """The patient-level splits (seed, strata, counts, locked test split) with the patients that
    two splits share (none, by construction) and each split's cases per stratum."""
    record = load_splits_record(path)
    for split in ("train", "val", "test"):
        if split not in record.counts:
            raise UserError(f"missing metric: {path} has no counts.{split}")
    patients = {s: {c.patient_id for c in cases} for s, cases in record.splits.items()}
    overlap = sorted(set.intersection(*patients.values())) if patients else []
    pairs = [(a, b, len(patients[a] & patients[b])) for a in sorted(patients)
             for b in sorted(patients) if a < b]
    strata: dict[str, dict[str, int]] = {}
    for name, cases in record.splits.items():
        for case in cases:
            counts = strata.setdefault(name, {})
            counts[case.stratum] = counts.get(case.stratum, 0) + 1
    return {**as_mapping(record, path), "overlaps": pairs, "shared_patients": overlap,
            "strata": {name: dict(sorted(c.items())) for name, c in strata.items()} | {
                name: {} for name in record.splits if name not in strata}}


def flatten(data: Any, prefix: str = "", max_items: int = 12,
            max_records: int = 4) -> list[tuple[str, Any]]:
    """``(dotted key, value)`` rows of a JSON value, sorted by key; long lists are summarised.

    Args:
        data: a parsed JSON value.
        prefix: the key of ``data`` itself.
        max_items: lists of plain values longer than this are shown as their length.
        max_records: lists of mappings or lists longer than this are shown as their length
            (per-case tables stay in their files; the documents name the file).
    """
    if isinstance(data, dict):
        rows: list[tuple[str, Any]] = []
        for key in sorted(data, key=str):
            rows += flatten(data[key], f"{prefix}.{key}" if prefix else str(key), max_items,
                            max_records)
        return rows
    if isinstance(data, list):
        plain = all(not isinstance(v, (dict, list)) for v in data)
        if len(data) > (max_items if plain else max_records):
            return [(prefix, f"{len(data)} entries (in the recorded file)")]
        if plain:
            return [(prefix, ", ".join(fmt(v) for v in data))]
        rows = []
        for index, value in enumerate(data):
            rows += flatten(value, f"{prefix}[{index}]", max_items, max_records)
        return rows
    return [(prefix, fmt(data))]


def fmt(value: Any) -> str:
    """A recorded value as text: floats to 4 significant digits, ``None`` as ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
