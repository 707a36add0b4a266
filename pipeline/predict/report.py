"""The JSON report ``predict`` writes beside the mask: lesion volumes, the model, the intended-use checks.

Where it goes: ``--report PATH`` (a ``*.json`` name), else the output's name with its mask suffix
replaced by ``.json`` (``mask.nii.gz`` -> ``mask.json``, ``seg.dcm`` -> ``seg.json``,
``out.png`` -> ``out.json``). A report path equal to the input, the model or the mask, or
inside an input folder, is refused before any work, like the mask's own path.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.atomic import write_json
from pipeline.core.errors import UserError
from pipeline.predict.lesions import summary_line

REPORT_VERSION = 1
MASK_SUFFIXES = (".nii.gz", ".nii", ".dcm", ".png")
REVIEW_NOTE = "Automatic segmentation and volumes: review every result before use."


def default_path(output: Path) -> Path:
    """``output`` with its mask suffix replaced by ``.json``."""
    output = Path(output)
    name = output.name
    for suffix in MASK_SUFFIXES:
        if name.lower().endswith(suffix):
            return output.with_name(name[: -len(suffix)] + ".json")
    return output.with_name(name + ".json")


def check_path(report: Path, model: Path, source: Path, output: Path) -> None:
    """Refuse a report that would overwrite the input, the model or the mask, or land in an input folder."""
    where = Path(report).resolve()
    for role, path in (("input", source), ("model", model), ("output mask", output)):
        if where == Path(path).resolve():
            raise UserError(f"report {report} is the {role} itself: choose another file (--report)")
    if not Path(report).name.lower().endswith(".json"):
        raise UserError(f"report {report} must be named *.json")
    src = Path(source).resolve()
    if src.is_dir() and src in where.parents:
        raise UserError(f"report {report} is inside the input folder {source}: write it elsewhere (--report)")
    if where.is_dir():
        raise UserError(f"report {report} is a folder: give a file name (*.json)")


def build(*, source: Path, input_kind: str, input_shape: list[int], output: Path, output_format: str,
          model_path: Path, model, lesions: dict, frame: str, affine, intended_use: dict,
          seconds: float, use_id: str | None = None) -> dict:
    """The report as a JSON-ready dict.

    Args:
        source: the input path; input_kind: ``dicom``, ``nifti`` or ``image``.
        input_shape: the input's array shape in its own order.
        output: the mask path; output_format: ``nifti``, ``seg`` or ``png``.
        model_path: the model file; model: the loaded ``OnnxModel`` (sha256, runtime, metadata).
        lesions: ``pipeline.predict.lesions.measure`` of the mask on the input grid.
        frame: what the mm and indices mean; affine: the input's index -> mm affine.
        intended_use: ``pipeline.predict.intended_use.check``'s record.
        seconds: wall time of the prediction.
        use_id: the use's ID in the use log (``monitor review`` takes it); left out when ``None``.
    """
    metadata = model.metadata
    logged = {"use_id": use_id} if use_id is not None else {}
    return {
        **logged,
        "report_version": REPORT_VERSION,
        "note": REVIEW_NOTE,
        "outside_intended_use": bool(intended_use["outside_intended_use"]),
        "input": {"path": str(source), "kind": input_kind, "shape": list(input_shape)},
        "output": {"path": str(output), "format": output_format},
        "model": {"path": str(model_path), "sha256": model.sha256,
                  "version": metadata.get("model_version", "unknown"),
                  "role": metadata.get("model_role", "unknown")},
        "runtime": {"name": model.runtime, "version": getattr(model.engine, "version", "unknown"),
                    "seconds": seconds},
        "geometry": {"frame": frame, "affine": [[round(float(v), 6) for v in row] for row in affine]},
        "intended_use": intended_use,
        **lesions,
    }


def seg_descriptions(lesions: dict, intended_use: dict, labels: list[str]) -> tuple[str, dict[int, str]]:
    """A DICOM SEG's SeriesDescription (LO, at most 64 characters) and each segment's
    SegmentDescription: the lesion count and total volume, flagged when outside the intended use."""
    flag = "OUTSIDE INTENDED USE; " if intended_use["outside_intended_use"] else ""
    series = f"{flag}{summary_line(lesions)}; review"[:64]
    per_segment = {}
    for number in range(1, len(labels)):
        mine = [x for x in lesions["lesions"] if x["label"] == labels[number]]
        volume = sum(x["volume_ml"] or 0.0 for x in mine)
        sizes = ", ".join(f"#{x['index']} {x['volume_ml']:.2f} mL" for x in mine[:10])
        more = f", +{len(mine) - 10} more" if len(mine) > 10 else ""
        per_segment[number] = (f"{flag}{len(mine)} connected lesion(s) ({lesions['connectivity']}-connectivity), "
                               f"total {volume:.2f} mL" + (f": {sizes}{more}" if mine else ""))
    return series, per_segment


def write(path: Path, report: dict) -> None:
    """Write the report atomically (sorted keys, stable formatting)."""
    write_json(Path(path), report)
