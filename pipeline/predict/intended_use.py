"""Is an input inside the intended use? Modality, voxel spacing and image size, checked before any work.

The ranges are the ones the model was developed and tested on; they travel inside the model
file (ONNX metadata ``acquisition_ranges``, see ``pipeline.export.metadata``), so ``predict``
needs nothing else. What happens outside them is a rule kept as data,
``pipeline/predict/data/intended_use.yaml``: per check ``refuse`` (one message naming the value
and the range, exit code 2, no output) or ``warn`` (printed and recorded in the report).
``--outside-intended-use`` turns refusals into loud warnings, recorded in the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError

from pipeline.core.errors import UserError
from pipeline.core.provenance import file_sha256
from pipeline.core.params_base import StrictModel
from pipeline.export.metadata import RANGES_KEY, AcquisitionRanges, read_acquisition_ranges
from pipeline.predict.reader import InputImage

RULE_PATH = Path(__file__).parent / "data" / "intended_use.yaml"
SPACING_ROUNDING_MM = 1e-4  # the fingerprint records spacings to 4 decimals
AXES = {3: ("x", "y", "z"), 2: ("row", "column")}
OVERRIDE_FLAG = "--outside-intended-use"

Action = Literal["refuse", "warn"]


class ModalityCheck(StrictModel):
    """DICOM inputs: the Modality values inside the intended use."""

    action: Action
    allowed: list[str] = Field(min_length=1)


class RangeCheck(StrictModel):
    """A per-axis range check (voxel spacing or image size) against the model's ranges."""

    action: Action
    tolerance: float = Field(default=0.0, ge=0.0, le=10.0, description="relative widening of [min, max]")


class MissingCheck(StrictModel):
    """What to do with a model file that carries no acquisition ranges (exported before them)."""

    action: Action


class IntendedUseRule(StrictModel):
    """``data/intended_use.yaml``."""

    modality: ModalityCheck
    spacing: RangeCheck
    size: RangeCheck
    missing_ranges: MissingCheck


@dataclass(frozen=True)
class Finding:
    """One check's result: ``outcome`` is ``pass``, ``warn``, ``refuse`` or ``not_applicable``."""

    check: str
    outcome: str
    value: object
    allowed: object
    message: str


def load_rule(path: Path = RULE_PATH) -> IntendedUseRule:
    """The rule file, validated (a broken rule is a ``UserError`` naming the file)."""
    try:
        return IntendedUseRule.model_validate(yaml.safe_load(Path(path).read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise UserError(f"intended-use rule {path} is not valid: {exc}") from None


def check(image: InputImage, metadata: dict[str, str], rule: IntendedUseRule | None = None,
          allow_outside: bool = False) -> dict:
    """Check ``image`` against the intended use; raise ``UserError`` when the rule refuses it.

    Args:
        image: the input as read (canonical order).
        metadata: the model file's metadata (``acquisition_ranges`` may be absent: older files).
        rule: the rule (default: ``data/intended_use.yaml``).
        allow_outside: run anyway where the rule refuses (``--outside-intended-use``): each
            refusal becomes a warning and the record says the input is outside the intended use.
    Returns:
        the record for the report: ranges, every check, warnings, ``outside_intended_use``.
    """
    source = {"rule": RULE_PATH.name, "rule_sha256": file_sha256(RULE_PATH)} if rule is None else {"rule": "given"}
    rule = rule or load_rule()
    ranges = read_acquisition_ranges(metadata)
    findings = evaluate(_modality(image), spacing_of(image), list(image.array.shape), ranges, rule)
    refused = [f for f in findings if f.outcome == "refuse"]
    if refused and not allow_outside:
        raise UserError("input outside the intended use: " + "; ".join(f.message for f in refused)
                        + f" (pass {OVERRIDE_FLAG} to run anyway, outside what was validated)")
    warnings = [f"OUTSIDE INTENDED USE (run with {OVERRIDE_FLAG}): {f.message}" for f in refused]
    warnings += [f.message for f in findings if f.outcome == "warn"]
    return {**source, "ranges": ranges.model_dump() if ranges else None,
            "checks": [asdict(f) for f in findings], "warnings": warnings,
            "outside_intended_use": any(f.outcome in ("refuse", "warn") and f.check != "missing_ranges"
                                        for f in findings),
            "override": bool(refused)}


def evaluate(modality: str | None, spacing_mm: list[float], shape: list[int],
             ranges: AcquisitionRanges | None, rule: IntendedUseRule) -> list[Finding]:
    """Every check on plain values (the pure core of ``check``).

    Args:
        modality: the DICOM Modality, or ``None`` for inputs that record none (NIfTI, 2D images).
        spacing_mm: voxel size per axis, canonical order.
        shape: image size per axis, canonical order.
        ranges: the model file's ranges, or ``None``.
        rule: what to do outside them.
    """
    out = [_check_modality(modality, rule.modality)]
    if ranges is None:
        out.append(Finding("missing_ranges", rule.missing_ranges.action, None, None,
                           f"the model file carries no acquisition ranges (metadata {RANGES_KEY}; exported "
                           "before they were recorded): voxel spacing and image size are not checked "
                           "against the intended use"))
        return out
    if ranges.spatial_dims != len(spacing_mm):
        out.append(Finding("ranges", "refuse", len(spacing_mm), ranges.spatial_dims,
                           f"the input is {len(spacing_mm)}D, the model's ranges are {ranges.spatial_dims}D"))
        return out
    where = f"{ranges.source}, {ranges.cases} cases"
    out.append(_check_range("spacing", [float(v) for v in spacing_mm], ranges.spacing_mm_min,
                            ranges.spacing_mm_max, rule.spacing, "voxel spacing", " mm", where,
                            SPACING_ROUNDING_MM))
    out.append(_check_range("size", [int(v) for v in shape], ranges.shape_min, ranges.shape_max,
                            rule.size, "image size", " voxels", where, 0.0))
    return out


def spacing_of(image: InputImage) -> list[float]:
    """Voxel size per axis in mm, canonical order (columns of the affine's linear part)."""
    dims = image.array.ndim
    return [round(float(v), 6) for v in np.linalg.norm(np.asarray(image.affine)[:dims, :dims], axis=0)]


def _modality(image: InputImage) -> str | None:
    if image.kind != "dicom":
        return None
    return str(image.extra["datasets"][0].get("Modality", "") or "")


def _check_modality(modality: str | None, rule: ModalityCheck) -> Finding:
    if modality is None:
        return Finding("modality", "not_applicable", None, rule.allowed,
                       "the input records no modality (NIfTI or 2D image): accepted because its "
                       "dimensionality matches the model's")
    if modality in rule.allowed:
        return Finding("modality", "pass", modality, rule.allowed, f"DICOM modality {modality}")
    return Finding("modality", rule.action, modality, rule.allowed,
                   f"DICOM modality {modality or '(empty)'} is not in the intended use "
                   f"(allowed: {', '.join(rule.allowed)})")


def _check_range(name: str, values: list, low: list, high: list, rule: RangeCheck, what: str, unit: str,
                 where: str, slack: float) -> Finding:
    axes = AXES.get(len(values), tuple(str(i) for i in range(len(values))))
    lows = [lo * (1.0 - rule.tolerance) - slack for lo in low]
    highs = [hi * (1.0 + rule.tolerance) + slack for hi in high]
    outside = [i for i, v in enumerate(values) if not lows[i] <= v <= highs[i]]
    allowed = {"min": list(low), "max": list(high), "tolerance": rule.tolerance}
    if not outside:
        return Finding(name, "pass", values, allowed, f"{what} {values}{unit} within the validated range")
    parts = ", ".join(f"{axes[i]} {_fmt(values[i])} not in {_fmt(low[i])}..{_fmt(high[i])}" for i in outside)
    widened = f" widened by {rule.tolerance:.0%}" if rule.tolerance else ""
    return Finding(name, rule.action, values, allowed,
                   f"{what} {[_fmt(v) for v in values]}{unit} is outside the range the model was validated "
                   f"on ({parts}{unit}{widened}; {where})")


def _fmt(value) -> float | int:
    return round(value, 4) if isinstance(value, float) else value
