"""The predict core: checked model + input in, mask on the input's grid out."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.monitoring import records as use_records
from pipeline.predict import crop, geometry, intended_use, lesions, reader, report, writer
from pipeline.runtime.model import OnnxModel
from pipeline.runtime.sliding import predict_volume


def predict(model_path: Path, input_path: Path, output_path: Path, threads: int = 2,
            pixel_spacing_mm: float | None = None, expected_sha256: str | None = None,
            runtime: str | None = None, voxel_spacing_mm: tuple[float, float, float] | None = None,
            report_path: Path | None = None, outside_intended_use: bool = False,
            use_id: str | None = None) -> dict:
    """Segment one input with an exported ONNX model.

    Args:
        model_path: the ``.onnx`` file (its ``.sha256`` sidecar is checked first).
        input_path: a DICOM series folder, a NIfTI file or a 2D image.
        output_path: ``*.nii.gz``/``*.nii``, ``*.dcm`` (DICOM SEG) or ``*.png``.
        threads: runtime threads.
        pixel_spacing_mm: pixel size of a 2D image (default: the model's target spacing).
        expected_sha256: require this digest instead of the sidecar's.
        runtime: run on this runtime instead of the one the model file records (the one its
            verification ran on).
        voxel_spacing_mm: the voxel size of a NIfTI input that records no geometry.
        report_path: where the JSON report goes (default: the output's name with ``.json``).
        outside_intended_use: run even where the intended-use rule refuses the input (recorded
            in the report, with a warning).
        use_id: the use's ID in the use log (written into the report; ``None``: not logged).
    Returns:
        a summary (format, shapes, foreground voxels, lesions and total mL, report path,
        warnings, seconds) with what the use log records (``observed``: the input's
        characteristics, ``intended_use``, ``per_class``, model version and role).
    """
    start = time.perf_counter()
    check_paths(Path(model_path), Path(input_path), Path(output_path))
    report_path = Path(report_path) if report_path is not None else report.default_path(Path(output_path))
    report.check_path(report_path, Path(model_path), Path(input_path), Path(output_path))
    model = OnnxModel.load(Path(model_path), expected_sha256=expected_sha256, threads=threads, runtime=runtime)
    spec = model.spec
    spacing = pixel_spacing_mm if pixel_spacing_mm is not None else spec.target_spacing_mm[0]
    image = reader.read_input(Path(input_path), pixel_spacing_mm=spacing, voxel_spacing_mm=voxel_spacing_mm)
    if image.array.ndim != spec.spatial_dims:
        raise UserError(f"input {input_path} is {image.array.ndim}D (shape {image.array.shape}), "
                        f"the model {model_path} expects {spec.spatial_dims}D")
    writer.output_kind(Path(output_path), image)  # refuse a wrong output name before the work
    use = intended_use.check(image, model.metadata, allow_outside=outside_intended_use)
    input_shape = list(image.array.shape)
    observed = use_records.observe(image.array, intended_use.spacing_of(image), image.kind,
                                   *_scanner(image))
    # from here on the mask needs only the input's geometry: hand the pixels over (memory, issue 17)
    pixels, image.array = geometry.as_float64(image.array), None
    data, volume = geometry.preprocess(pixels, image.affine, spec)
    if min(volume.shape[1:]) < 1:
        raise UserError(_emptied(input_path, pixels, spec))
    del pixels
    network_shape = list(volume.shape[1:])
    logits = predict_volume(model, volume, spec)
    del volume
    mask = crop.postprocess_in_box(geometry.invert(data, logits, spec.foreground_threshold), spec)
    del logits, data
    own_affine, frame = reader.input_geometry(image)
    in_order = reader.to_input_order(image, mask)
    measured = lesions.measure(in_order, own_affine, spec.labels)
    descriptions = report.seg_descriptions(measured, use, spec.labels) if image.kind == "dicom" else None
    kind = writer.write(Path(output_path), image, mask, model.metadata, spec.labels, descriptions)
    seconds = round(time.perf_counter() - start, 3)
    report.write(report_path, report.build(
        source=Path(input_path), input_kind=image.kind, input_shape=list(in_order.shape), output=Path(output_path),
        output_format=kind, model_path=Path(model_path), model=model, lesions=measured, frame=frame,
        affine=own_affine, intended_use=use, seconds=seconds, use_id=use_id))
    return {"model": str(model_path), "model_sha256": model.sha256, "runtime": model.runtime,
            "input": str(input_path),
            "output": str(output_path), "format": kind, "input_shape": input_shape,
            "network_shape": network_shape, "foreground_voxels": int((mask > 0).sum()),
            "lesions": measured["total"]["lesions"], "volume_ml": measured["total"]["volume_ml"],
            "report": str(report_path), "warnings": list(use["warnings"]),
            "outside_intended_use": use["outside_intended_use"], "seconds": seconds,
            "model_version": model.metadata.get("model_version", "unknown"),
            "model_role": model.metadata.get("model_role", "unknown"),
            "runtime_version": str(getattr(model.engine, "version", "unknown")),
            "intended_use": use, "observed": observed, "per_class": use_records.per_class(measured, spec.labels)}


def check_paths(model: Path, source: Path, output: Path) -> None:
    """Refuse an output that would overwrite the input, land inside an input folder or replace
    the model: a mask written over a patient's CT destroys the source image."""
    out = output.resolve()
    src = source.resolve()
    if out == src or out == model.resolve():
        raise UserError(f"output {output} is the {'input' if out == src else 'model'} itself: choose another file")
    if src.is_dir() and src in out.parents:
        raise UserError(f"output {output} is inside the input folder {source}: write the mask elsewhere "
                        "(it would be read as part of the series next time)")
    if out.is_dir():
        raise UserError(f"output {output} is a folder: give a file name (*.nii.gz, *.dcm or *.png)")


def _scanner(image) -> tuple[str | None, str | None]:
    """The DICOM Modality and Manufacturer of the input (``None`` for NIfTI and 2D images)."""
    if image.kind != "dicom":
        return None, None
    first = image.extra["datasets"][0]
    return str(first.get("Modality", "") or ""), str(first.get("Manufacturer", "") or "") or None


def _emptied(source: Path, array, spec) -> str:
    """Why preprocessing left nothing: name the crop rule and the input's value range."""
    low, high = float(array.min()), float(array.max())
    norm = spec.normalisation
    window = f"CT window {norm.low}..{norm.high}" if getattr(norm, "kind", "") == "ct_window" else norm.kind
    return (f"{source}: preprocessing left no voxels: no part of the image is above the body threshold "
            f"(crop_threshold {spec.crop_threshold} after the {window}); its values span {low:g}..{high:g}. "
            "Is it a CT in Hounsfield units, with a body in the field of view?")
