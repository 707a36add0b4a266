"""The predict core: checked model + input in, mask on the input's grid out."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.predict import geometry, reader, writer
from pipeline.runtime import postprocess
from pipeline.runtime.model import OnnxModel
from pipeline.runtime.sliding import predict_volume


def predict(model_path: Path, input_path: Path, output_path: Path, threads: int = 2,
            pixel_spacing_mm: float | None = None, expected_sha256: str | None = None,
            runtime: str | None = None) -> dict:
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
    Returns:
        a summary (format, shapes, foreground voxels, seconds).
    """
    start = time.perf_counter()
    model = OnnxModel.load(Path(model_path), expected_sha256=expected_sha256, threads=threads, runtime=runtime)
    spec = model.spec
    spacing = pixel_spacing_mm if pixel_spacing_mm is not None else spec.target_spacing_mm[0]
    image = reader.read_input(Path(input_path), pixel_spacing_mm=spacing)
    if image.array.ndim != spec.spatial_dims:
        raise UserError(f"input {input_path} is {image.array.ndim}D (shape {image.array.shape}), "
                        f"the model {model_path} expects {spec.spatial_dims}D")
    writer.output_kind(Path(output_path), image)  # refuse a wrong output name before the work
    data, volume = geometry.preprocess(image.array, image.affine, spec)
    logits = predict_volume(model, volume, spec)
    mask = postprocess.apply(geometry.invert(data, logits), spec)
    kind = writer.write(Path(output_path), image, mask, model.metadata, spec.labels)
    return {"model": str(model_path), "model_sha256": model.sha256, "runtime": model.runtime,
            "input": str(input_path),
            "output": str(output_path), "format": kind, "input_shape": list(image.array.shape),
            "network_shape": list(volume.shape[1:]), "foreground_voxels": int((mask > 0).sum()),
            "seconds": round(time.perf_counter() - start, 3)}
