"""Recorded evidence, one reader per input; a missing file or metric is a ``UserError`` naming it.

Each reader checks only the keys the documents quote; everything else in a metrics file is
shown as recorded (``flatten``), so a stage may add metrics without changing the templates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from pipeline.core.errors import UserError

VNV_KEYS = ("criteria", "release_status", "models")
TRAIN_KEYS = ("best_val_dice", "best_epoch", "epochs", "weights_sha256", "seed", "threads",
              "train_cases", "val_cases")
DEID_KEYS = ("leak_check", "profile")  # the threat model quotes the leak count and the options retained
SPLIT_KEYS = ("cases", "content_sha256", "evaluations", "max_evaluations", "history")  # a locked split in vnv.json
SPLITS_KEYS = ("seed", "stratify_by", "locked", "splits", "counts")
FINGERPRINT_KEYS = ("all", "per_site")
CRITERION_KEYS = ("status", "models")
MODEL_RESULT_KEYS = ("status", "value", "reason")


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON evidence file.

    Args:
        path: the file.
        what: what it is, for the message (e.g. ``V&V results``).
    """
    if not Path(path).is_file():
        raise UserError(f"missing input: {path} ({what}) not found; run the stage that writes it "
                        "(dvc repro) before rendering the technical file")
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} ({what}) is not valid JSON: {exc}") from None


def require(data: Any, keys: tuple[str, ...], path: Path, where: str = "") -> None:
    """Raise ``UserError`` naming the first missing metric ``path: where.key``.

    Args:
        data: the parsed mapping.
        keys: the keys the documents need.
        path: the file, for the message.
        where: the dotted location of ``data`` inside the file.
    """
    if not isinstance(data, dict):
        raise UserError(f"{path}: {where or '<top level>'} must be a mapping")
    for key in keys:
        if key not in data:
            raise UserError(f"missing metric: {path} has no {where + '.' if where else ''}{key}")


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


def load_vnv(path: Path, criteria: list[str]) -> dict:
    """The verify stage's results with every acceptance criterion of the V&V plan.

    Args:
        path: ``metrics/vnv.json``.
        criteria: the criterion IDs of the design set, each must have a result.
    """
    data = read_json(path, "V&V results")
    require(data, VNV_KEYS, path)
    check_intervals(data, path)
    raw = data["criteria"]
    results = raw if isinstance(raw, dict) else {str(r.get("id")): r for r in raw}
    for cid in criteria:
        if cid not in results:
            raise UserError(f"missing metric: {path} has no result for criterion {cid}")
        require(results[cid], CRITERION_KEYS, path, f"criteria.{cid}")
        for model, result in results[cid]["models"].items():
            require(result, MODEL_RESULT_KEYS, path, f"criteria.{cid}.models.{model}")
    evidence = data.get("evidence")
    if not evidence:
        raise UserError(f"missing metric: {path} has no evidence (Grad-CAM images)")
    for split in ("test_split", "external_split"):  # the external split is optional
        if split == "test_split" or data.get(split):
            require(data.get(split) or {}, SPLIT_KEYS, path, split)
    return {**data, "criteria": results}


def load_evidence(root: Path, evidence: list[dict], source: Path) -> list[dict]:
    """Evidence images named in ``vnv.json``, embedded as ``data:`` URIs (no external assets).

    Args:
        root: the repository root the paths are relative to.
        evidence: ``vnv.json``'s ``evidence`` entries (``path``, ``requirements``, ``caption``).
        source: ``vnv.json``, for the message.
    """
    out = []
    for index, entry in enumerate(evidence):
        require(entry, ("path",), source, f"evidence[{index}]")
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
        require(entry, ("path", "sha256"), source, f"models.{name}")
        file = Path(root) / entry["path"]
        current = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "missing"
        out.append({"name": name, "path": str(entry["path"]), "verified": str(entry["sha256"]),
                    "released": current, "match": current == entry["sha256"]})
    return out


def load_metrics(path: Path, what: str, keys: tuple[str, ...] = ()) -> dict:
    """A stage's metrics file with the keys the documents quote.

    Args:
        path: the JSON file.
        what: what it is, for the message.
        keys: required top-level keys.
    """
    data = read_json(path, what)
    require(data, keys, path)
    check_intervals(data, path)
    return data


def load_splits(path: Path) -> dict:
    """The patient-level splits (seed, strata, counts, locked test split)."""
    data = load_metrics(path, "patient-level splits", SPLITS_KEYS)
    for split in ("train", "val", "test"):
        if split not in data["counts"]:
            raise UserError(f"missing metric: {path} has no counts.{split}")
    patients = {s: {c["patient_id"] for c in cases} for s, cases in data["splits"].items()}
    overlap = sorted(set.intersection(*patients.values())) if patients else []
    pairs = [(a, b, len(patients[a] & patients[b])) for a in sorted(patients)
             for b in sorted(patients) if a < b]
    strata: dict[str, dict[str, int]] = {}
    for name, cases in data["splits"].items():
        for case in cases:
            if case.get("stratum") is not None:
                counts = strata.setdefault(name, {})
                counts[str(case["stratum"])] = counts.get(str(case["stratum"]), 0) + 1
    return {"external_sites": [], **data, "overlaps": pairs, "shared_patients": overlap,
            "strata": {name: dict(sorted(c.items())) for name, c in strata.items()} | {
                name: {} for name in data["splits"] if name not in strata}}


def load_fingerprint(path: Path) -> dict:
    """The data-set fingerprint, overall and per site."""
    return load_metrics(path, "data-set fingerprint", FINGERPRINT_KEYS)


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
