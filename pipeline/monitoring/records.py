"""What the use log records: a use of ``predict`` and a reviewer's decision on one (pure).

No patient identity enters a record: no names, IDs, UIDs, dates of the study or paths of the
input; the input is named only by the SHA-256 of its pixel data (``input.sha256``, pseudonymous:
it links repeated runs on one image without saying whose it is). The report path is recorded
as given to ``predict`` (name reports by a pseudonym or accession-free name, never by patient).
Input drift is recorded per study against the ranges the model file carries (the data-set
fingerprint's ``all`` summary): ``inside``, ``outside``, or ``no reference``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

RECORD_VERSION = 1
INTENSITY_SAMPLES = 1_000_000  # percentiles from at most this many voxels (a fixed stride)
Decision = Literal["accepted", "corrected", "rejected"]
NO_REFERENCE = "no reference"


class _Loose(BaseModel):
    """Records are read back across versions: extra keys are kept, the named ones checked."""

    model_config = ConfigDict(extra="allow", frozen=True)


class UseRecord(_Loose):
    """One ``predict`` run (the keys the summary reads)."""

    kind: Literal["use"]
    use_id: str = Field(min_length=8)
    time: str
    site: str | None = None
    model: dict
    intended_use: dict
    drift: dict
    output: dict
    seq: int
    hash: str


class ReviewRecord(_Loose):
    """The reviewer's decision on one use."""

    kind: Literal["review"]
    use_id: str = Field(min_length=8)
    time: str
    decision: Decision
    reviewer: str = Field(min_length=1)
    comment: str = ""
    seq: int
    hash: str


def observe(array: np.ndarray, spacing_mm: list[float], kind: str, modality: str | None,
            manufacturer: str | None) -> dict:
    """The input's characteristics for the log, before any processing.

    Args:
        array: the image as read (canonical order, its own dtype).
        spacing_mm: voxel size per axis (canonical order).
        kind: ``dicom``, ``nifti`` or ``image``; modality, manufacturer: DICOM values or ``None``.
    """
    data = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{data.dtype.str}{list(data.shape)}".encode())
    digest.update(memoryview(data).cast("B"))
    flat = data.reshape(-1)
    sample = flat[:: max(1, flat.size // INTENSITY_SAMPLES)].astype(np.float64)
    p005, p50, p995 = np.percentile(sample, [0.5, 50.0, 99.5]) if sample.size else (0.0, 0.0, 0.0)
    return {"sha256": digest.hexdigest(), "kind": kind, "modality": modality, "manufacturer": manufacturer,
            "shape": [int(v) for v in data.shape], "spacing_mm": [round(float(v), 6) for v in spacing_mm],
            "intensity": {"p00_5": _r(p005), "p50": _r(p50), "p99_5": _r(p995),
                          "mean": _r(sample.mean()) if sample.size else 0.0, "sampled_voxels": int(sample.size)}}


def drift(observed: dict, ranges: dict | None) -> dict:
    """Each characteristic against the model file's ranges (keys as in the fingerprint).

    Args:
        observed: from ``observe``.
        ranges: the intended-use record's ``ranges`` (``AcquisitionRanges`` as a dict) or ``None``.
    """
    if not ranges:
        return {"reference": None, "spacing": NO_REFERENCE, "shape": NO_REFERENCE, "manufacturers": NO_REFERENCE}
    dims = len(ranges["spacing_mm_min"])
    out = {"reference": f"{ranges['source']}, {ranges['cases']} cases"}
    if len(observed["spacing_mm"]) != dims:
        return {**out, "spacing": "outside", "shape": "outside", "manufacturers": NO_REFERENCE}
    out["spacing"] = [_within(v, lo, hi, 1e-4) for v, lo, hi in
                      zip(observed["spacing_mm"], ranges["spacing_mm_min"], ranges["spacing_mm_max"])]
    out["shape"] = [_within(v, lo, hi, 0.0) for v, lo, hi in
                    zip(observed["shape"], ranges["shape_min"], ranges["shape_max"])]
    known = ranges.get("manufacturers") or []
    out["manufacturers"] = (NO_REFERENCE if not known or not observed.get("manufacturer") else
                            "inside" if observed["manufacturer"] in known else "outside")
    return out


def use_body(prediction: dict, observed: dict, *, use_id: str, time: str, site: str | None,
             report_sha256: str) -> dict:
    """The use record's content (sealed by ``logfile.append``).

    Args:
        prediction: ``pipeline.predict.run.predict``'s summary (model, runtime, intended use, lesions).
        observed: ``observe`` of the input.
        use_id: the use's ID (also written into the report).
        time: UTC time of the record (``2026-11-27T10:00:00Z``).
        site: the deployment site's label, when configured (not a patient attribute).
        report_sha256: SHA-256 of the report file written.
    """
    use = prediction["intended_use"]
    return {"kind": "use", "record_version": RECORD_VERSION, "use_id": use_id, "time": time, "site": site,
            "model": {"sha256": prediction["model_sha256"], "version": prediction["model_version"],
                      "role": prediction["model_role"]},
            "runtime": {"name": prediction["runtime"], "version": prediction["runtime_version"],
                        "seconds": prediction["seconds"]},
            "input": observed,
            "intended_use": {"outside": bool(use["outside_intended_use"]), "override": bool(use["override"]),
                             "checks": {c["check"]: c["outcome"] for c in use["checks"]},
                             "warnings": len(use["warnings"])},
            "drift": drift(observed, use.get("ranges")),
            "output": {"format": prediction["format"], "lesions": prediction["lesions"],
                       "volume_ml": prediction["volume_ml"], "per_class": prediction["per_class"]},
            "report": {"path": prediction["report"], "sha256": report_sha256}}


def review_body(use_id: str, decision: str, reviewer: str, comment: str, time: str) -> dict:
    """A reviewer's decision on the use ``use_id`` (sealed by ``logfile.append``)."""
    return {"kind": "review", "record_version": RECORD_VERSION, "use_id": use_id, "time": time,
            "decision": decision, "reviewer": reviewer, "comment": comment}


def utc_now(now: datetime | None = None) -> str:
    """``2026-11-27T10:00:00Z`` (UTC, whole seconds)."""
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def per_class(measured: dict, labels: list[str]) -> dict:
    """Lesion count and volume (mL; area in mm^2 in 2D) per foreground class of
    ``pipeline.predict.lesions.measure``'s record."""
    if "per_label" in measured:
        return {name: dict(v) for name, v in measured["per_label"].items()}
    total = measured["total"]
    return {labels[1]: {k: total[k] for k in ("lesions", "voxels", "volume_ml", "area_mm2") if k in total}}


def _within(value: float, low: float, high: float, slack: float) -> str:
    return "inside" if low - slack <= value <= high + slack else "outside"


def _r(value) -> float:
    return round(float(value), 3)
