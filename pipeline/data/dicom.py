"""DICOM reader: CT image series plus the DICOM SEG that references each, in any folder layout.

Files are grouped by the UIDs in their headers, never by path (de-identified exports use
pseudonymous paths). A case is one CT series (Modality CT, CT Image Storage) with the one SEG
whose ReferencedSeriesSequence names it. Other series (dose screens, reports) are ignored.
Geometry comes from highdicom: slices are ordered by their position along the slice normal,
the SEG is matched to the CT grid by its own plane positions, and the volume is flipped into
RAS+ order. Series with uneven slice gaps are resampled to the median gap along the normal.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

from pipeline.data.classes import segment_numbers
from pipeline.data.case import LPS_TO_RAS, BadCase, Case, ReadResult, check_label, to_canonical
from pipeline.data.params import DicomSource

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def read(source: DicomSource, progress=None) -> ReadResult:
    """Read every CT series with its SEG under ``source.path``.

    Args:
        source: the validated ``dicom`` source params.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    root = Path(source.path)
    series, segs, result = _scan(root)
    by_reference = defaultdict(list)
    for seg_path, ref in segs:
        by_reference[ref].append(seg_path)
    for ref in sorted(set(by_reference) - set(series)):
        for seg_path in by_reference[ref]:
            result.bad.append(BadCase(_rel(seg_path, root), "SEG references a CT series that is not present"))
    items = sorted(series.items())
    for uid, datasets in (progress(items) if progress else items):
        name = case_name(uid)
        refs = by_reference.get(uid, [])
        if not refs:
            result.bad.append(BadCase(name, "missing label: no SEG references this CT series"))
            continue
        if len(refs) > 1:
            result.bad.append(BadCase(name, f"ambiguous label: {len(refs)} SEG objects reference this CT series"))
            continue
        try:
            result.cases.append(read_case(datasets, refs[0], source.classes, name))
        except (ValueError, RuntimeError, KeyError, AttributeError, TypeError) as exc:
            result.bad.append(BadCase(name, f"{type(exc).__name__}: {exc}"))
    return result


def case_name(series_uid: str) -> str:
    """A stable, identifier-free case ID derived from the CT SeriesInstanceUID."""
    return "case-" + hashlib.sha256(series_uid.encode()).hexdigest()[:12]


def read_case(datasets: list[pydicom.Dataset], seg_path: Path, classes: list, name: str) -> Case:
    """One CT series and its SEG file as a canonical (RAS) case; raises on any mismatch.

    Args:
        datasets: the CT slices (any order).
        seg_path: the SEG file that references them.
        classes: the declared classes (their segment labels; ``pipeline.data.classes``).
        name: the case ID.
    """
    seg = hd.seg.segread(seg_path)
    found = {str(item.SegmentLabel): int(item.SegmentNumber) for item in seg.SegmentSequence}
    numbers, lut, unmapped = segment_numbers(found, classes)
    try:
        volume = hd.get_volume_from_series(datasets, dtype=np.float32)
        label = seg.get_volume(combine_segments=True, segment_numbers=numbers, dtype=np.uint8)
        _check_inside(label.affine, label.spatial_shape, volume.affine, volume.spatial_shape)
        label = label.match_geometry(volume)
        image, mask, affine = volume.array, label.array, volume.affine
    except RuntimeError as exc:
        raise RuntimeError(f"label geometry does not match the image: {exc}") from None
    except ValueError as exc:
        if "spac" not in str(exc).lower():
            raise
        image, mask, affine = _resample_uneven(datasets, seg, numbers)
    mask = lut[np.asarray(mask)]  # segment numbers (combined, not relabelled) -> class indices
    problem = check_label(image, mask, name)
    if problem:
        raise ValueError(problem)
    image, mask, affine = to_canonical(image.astype(np.float32), mask, LPS_TO_RAS @ affine)
    first = datasets[0]
    return Case(
        case_id=name, patient_id=str(first.get("PatientID", "")) or name, image=image, label=mask,
        affine=affine, site=str(first.get("InstitutionName", "") or "unknown"),
        manufacturer=str(first.get("Manufacturer", "") or "unknown"),
        sex=str(first.get("PatientSex", "") or "unknown"), age=_age(first.get("PatientAge", "")),
        source="dicom", unmapped=unmapped,
    )


def _scan(root: Path) -> tuple[dict[str, list], list[tuple[Path, str]], ReadResult]:
    result = ReadResult()
    series: dict[str, list] = defaultdict(list)
    segs: list[tuple[Path, str]] = []
    if not root.is_dir():
        result.bad.append(BadCase(str(root), "DICOM folder not found"))
        return series, segs, result
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except Exception as exc:  # pydicom raises many types for broken files
            result.bad.append(BadCase(_rel(path, root), f"unreadable DICOM file: {type(exc).__name__}: {exc}"))
            continue
        modality = ds.get("Modality", "")
        if modality == "SEG":
            refs = ds.get("ReferencedSeriesSequence") or []
            segs.append((path, str(refs[0].SeriesInstanceUID) if refs else ""))
        elif modality == "CT" and ds.get("SOPClassUID", "") == CT_IMAGE_STORAGE:
            series[str(ds.SeriesInstanceUID)].append(ds)
    return series, segs, result


def _check_inside(seg_affine, seg_shape, ct_affine, ct_shape, tol: float = 1e-2) -> None:
    """Every SEG voxel centre must land on a CT voxel centre inside the CT grid."""
    corners = np.array([[i, j, k, 1.0] for i in (0, seg_shape[0] - 1) for j in (0, seg_shape[1] - 1)
                        for k in (0, seg_shape[2] - 1)]).T
    indices = (np.linalg.inv(ct_affine) @ seg_affine @ corners)[:3]
    if np.abs(indices - np.rint(indices)).max() > tol:
        raise RuntimeError("SEG planes do not lie on the CT voxel grid")
    low, high = np.rint(indices).min(1), np.rint(indices).max(1)
    if np.any(low < 0) or np.any(high > np.array(ct_shape) - 1):
        raise RuntimeError(f"SEG extends outside the CT volume (CT index range {low.tolist()}..{high.tolist()})")


def _resample_uneven(datasets: list, seg: hd.seg.Segmentation, numbers: list[int] | None):
    """Sort slices along the normal, interpolate onto the median gap; label by nearest slice."""
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    ordered = sorted(datasets, key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))
    positions = np.array([np.dot(normal, np.array(ds.ImagePositionPatient, float)) for ds in ordered])
    gaps = np.diff(positions)
    if len(ordered) < 2 or np.any(gaps <= 1e-3):
        raise ValueError("slices are missing positions or overlap")
    stack = np.stack([apply_modality_lut(ds.pixel_array, ds).astype(np.float32) for ds in ordered])
    labels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[str(ds.SOPInstanceUID) for ds in ordered],
        segment_numbers=numbers, combine_segments=True, dtype=np.uint8)
    step = float(np.median(gaps))
    targets = np.arange(positions[0], positions[-1] + step / 2, step)
    index = np.interp(targets, positions, np.arange(len(ordered)))
    low = np.minimum(np.floor(index).astype(int), len(ordered) - 2)
    weight = (index - low)[:, None, None].astype(np.float32)
    image = (1 - weight) * stack[low] + weight * stack[low + 1]
    mask = labels[np.rint(index).astype(int)]
    spacing = [float(v) for v in datasets[0].PixelSpacing]  # (between rows, between columns)
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = col_dir * spacing[0]
    affine[:3, 2] = row_dir * spacing[1]
    affine[:3, 3] = np.array(ordered[0].ImagePositionPatient, float)
    return image, mask, affine


def _age(value: str) -> int | None:
    text = str(value or "")
    if len(text) == 4 and text[:3].isdigit() and text[3] == "Y":
        return int(text[:3])
    return None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
