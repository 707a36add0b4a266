"""INT8 static quantization in ONNX Runtime: QDQ format, per-channel weights, calibrated on training cases.

``quant_pre_process`` fails on graphs with dynamic spatial axes unless symbolic shape
inference is skipped, so it runs with ``skip_symbolic_shape=True``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
from monai.transforms import ResizeWithPadOrCrop

from pipeline.data.cache import LoadedCase
from pipeline.runtime.engines import INPUT


def calibration_batches(cases: list[LoadedCase], patch_size: list[int]) -> list[np.ndarray]:
    """One window per case, centred on the label's foreground when there is one.

    Args:
        cases: training cases (their ``image`` (C, ...) and ``label`` (1, ...)).
        patch_size: the window size.
    """
    batches = []
    for case in cases:
        image = np.asarray(case.image, dtype=np.float32)
        label = np.asarray(case.label)[0]
        if label.any():
            centre = [int(round(float(np.mean(axis)))) for axis in np.nonzero(label)]
            image = _crop_around(image, centre, patch_size)
        fitted = ResizeWithPadOrCrop(spatial_size=patch_size)(image)
        batches.append(np.asarray(fitted, dtype=np.float32)[None])
    return batches


def quantize_int8(fp32_path: Path, out_path: Path, batches: list[np.ndarray], per_channel: bool = True) -> None:
    """Write an INT8 QDQ copy of ``fp32_path`` calibrated (MinMax) on ``batches``.

    Args:
        fp32_path: the FP32 ONNX model.
        out_path: where the quantized model goes.
        batches: calibration inputs (1, C, *patch) from training cases only.
        per_channel: per-output-channel weight scales.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter(batches)

        def get_next(self):
            batch = next(self._items, None)
            return None if batch is None else {INPUT: batch}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT warns once per PReLU slope that per-channel axis 1 does not apply
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prepared = Path(tmp) / "prepared.onnx"
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(out_path), _Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    finally:
        root.setLevel(level)


def _crop_around(image: np.ndarray, centre: list[int], patch_size: list[int]) -> np.ndarray:
    slices = [slice(None)]
    for c, size, extent in zip(centre, patch_size, image.shape[1:]):
        start = min(max(c - size // 2, 0), max(extent - size, 0))
        slices.append(slice(start, start + size))
    return image[tuple(slices)]
