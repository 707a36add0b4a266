"""Measure one candidate ONNX file: size, latency per window, validation Dice through ORT.

The validation Dice is that of the candidate with its own post-processing, chosen on the same
validation cases (``pipeline.export.postprocess.decide``): candidates are compared as they
would be shipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.export import postprocess
from pipeline.export.inference import make_session, predict_volume, to_mask
from pipeline.export.latency import median_seconds


def measure(path: Path, val_cases: list[dict], window, repeats: int, threads: int,
            largest_component: str = "auto") -> dict:
    """Bytes, median ORT latency of one window (batch 1), mean val Dice and post-processing.

    Args:
        path: the candidate ``.onnx`` file.
        val_cases: validation cases with ``image`` and ``label``.
        window: patch size and sliding-window settings.
        repeats: timed calls for the latency median.
        threads: ONNX Runtime threads.
        largest_component: ``auto`` or ``never`` (``compress.keep_largest_component``).
    """
    session = make_session(Path(path), threads)
    batch = np.random.default_rng(0).random((1, window.in_channels, *window.patch_size), dtype=np.float32)
    latency = median_seconds(lambda: session.run(None, {"image": batch}), repeats)
    masks = [to_mask(predict_volume(session, case["image"], window)) for case in val_cases]
    decision = postprocess.decide(masks, [np.asarray(case["label"])[0] for case in val_cases], largest_component)
    return {"bytes": Path(path).stat().st_size, "latency_ms": round(1000 * latency, 3),
            "val_dice": decision["val_dice"], "postprocessing": decision}
