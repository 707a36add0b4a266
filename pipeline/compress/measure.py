"""Measure one candidate ONNX file: size, latency per window, validation Dice through ORT."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.export.inference import make_session, predict_volume, to_mask
from pipeline.export.latency import median_seconds
from pipeline.export.parity import dice


def measure(path: Path, val_cases: list[dict], window, repeats: int, threads: int) -> dict:
    """Bytes, median ORT latency of one window (batch 1), and mean val Dice of the file.

    Args:
        path: the candidate ``.onnx`` file.
        val_cases: validation cases with ``image`` and ``label``.
        window: patch size and sliding-window settings.
        repeats: timed calls for the latency median.
        threads: ONNX Runtime threads.
    """
    session = make_session(Path(path), threads)
    batch = np.random.default_rng(0).random((1, window.in_channels, *window.patch_size), dtype=np.float32)
    latency = median_seconds(lambda: session.run(None, {"image": batch}), repeats)
    scores = [dice(to_mask(predict_volume(session, case["image"], window)), np.asarray(case["label"])[0])
              for case in val_cases]
    return {"bytes": Path(path).stat().st_size, "latency_ms": round(1000 * latency, 3),
            "val_dice": round(float(np.mean(scores)), 6) if scores else float("nan")}
