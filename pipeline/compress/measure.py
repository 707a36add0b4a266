"""Measure candidate ONNX files on every runtime: size, per-volume latency, validation Dice per case.

Latency is what a user waits for: the sliding-window inference of whole volumes (several
validation cases spread over the range of sizes, ``compress.latency_cases``) through the
product's own path (``pipeline.runtime.sliding``), the median of interleaved rounds in which
every (model, runtime) pair and the torch-eager reference of each FP32 model run in turn, so load drift on a shared machine hits all alike.
The validation Dice is per case, through the same path, with each model's own
post-processing (operating point, component rule) chosen on those cases
(``pipeline.compress.postprocessing``): candidates are
compared as they would ship, and the per-case values allow a paired comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from pipeline.compress import postprocessing
from pipeline.data.cache import LoadedCase
from pipeline.runtime import engines
from pipeline.runtime.sliding import decision_differences, predict_volume, torch_predict_volume
from pipeline.runtime.spec import WindowSpec
from pipeline.core.timing import interleaved_medians


def open_all(files: dict[str, Path], runtimes: list[str], window: WindowSpec,
             threads: int) -> dict[tuple[str, str], engines.Engine | str]:
    """An engine per (model, runtime); a string with the error where one cannot be built."""
    shape = (window.sw_batch_size, window.in_channels, *window.patch_size)
    opened: dict[tuple[str, str], engines.Engine | str] = {}
    for name, path in files.items():
        blob = Path(path).read_bytes()
        for runtime in runtimes:
            try:
                opened[name, runtime] = engines.open_engine(blob, runtime, threads, shape)
            except Exception as exc:  # a runtime that cannot run this file is a measured result
                opened[name, runtime] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return opened


def validation(runs: dict[str, Callable], module: torch.nn.Module | None, val_cases: list[LoadedCase],
               window: WindowSpec, mode: str, thresholds: Sequence[float] = (0.5,),
               atol: float = 0.0) -> dict[str, dict]:
    """One model on every runtime: per-case validation Dice with its chosen post-processing
    (operating point and component rule), and, for a model with PyTorch weights, its parity
    with them (what the export gate checks, at the operating point chosen on that runtime).

    Args:
        runs: runtime -> engine of this model's ONNX file.
        module: the PyTorch module the file was exported from (None for INT8 copies, whose
            reference would be a fake-quantized module).
        val_cases: validation cases (their ``image`` and ``label``).
        window: the sliding-window settings.
        mode: ``auto`` or ``never`` (largest-component post-processing).
        thresholds: foreground operating points to choose from.
        atol: the parity gate's logit tolerance (ties: ``pipeline.runtime.sliding.decision_differences``).
    Returns:
        runtime -> ``val_dice``, ``per_case`` (case_id -> Dice), ``postprocessing`` and
        ``parity`` (``max_abs_diff``, ``argmax_mismatches``, ``voxels``; None without a module).
    """
    logits = {runtime: [] for runtime in runs}
    references = []
    max_diff = {runtime: 0.0 for runtime in runs}
    for case in val_cases:
        reference = torch_predict_volume(module, case.image, window) if module is not None else None
        references.append(reference)
        for runtime, engine in runs.items():
            logits[runtime].append(predict_volume(engine, case.image, window))
            if reference is not None:
                max_diff[runtime] = max(max_diff[runtime], float(np.abs(logits[runtime][-1] - reference).max()))
    truths = [np.asarray(case.label)[0] for case in val_cases]
    out = {}
    for runtime in runs:
        decision = postprocessing.decide(logits[runtime], truths, mode, thresholds)
        per_case = {case.case_id: round(value, 6)
                    for case, value in zip(val_cases, decision.pop("per_case"))}
        parity = None
        if module is not None:
            threshold = decision["foreground_threshold"]
            counts = [decision_differences(ref, got, threshold, atol)
                      for ref, got in zip(references, logits[runtime])]
            parity = {"max_abs_diff": max_diff[runtime], "voxels": sum(int(x[0].size) for x in logits[runtime]),
                      "argmax_mismatches": sum(c[0] for c in counts), "decision_ties": sum(c[1] for c in counts)}
        out[runtime] = {"val_dice": decision["val_dice"], "per_case": per_case, "postprocessing": decision,
                        "parity": parity}
    return out


def timed_volumes(cases: list[LoadedCase], count: int) -> list[np.ndarray]:
    """``count`` volumes spread evenly over the cases' range of sizes, the largest always included.

    A speed ratio measured on one volume does not hold on others: on the Intel CPU of
    2026-11-27 the slim student measured 3.01x on the largest validation volume and 2.71x on
    the mean of the 12 test volumes (VAL-017), so the choice is timed on several.
    """
    ordered = sorted(cases, key=lambda case: (case.image.size, case.case_id))
    if count >= len(ordered):
        return [case.image for case in ordered]
    last = len(ordered) - 1
    picks = sorted({round(last - i * last / max(count - 1, 1)) for i in range(count)}) if count > 1 else [last]
    return [ordered[i].image for i in picks]


def volume_latency_ms(contenders: dict[str, Callable[[np.ndarray], np.ndarray]],
                      modules: dict[str, torch.nn.Module], volumes: list[np.ndarray], window: WindowSpec,
                      repeats: int) -> dict[str, float]:
    """Milliseconds per sliding-window volume, the mean over ``volumes``, all contenders
    interleaved in one process: each round runs every contender over every volume, and the
    median round is kept (so a ratio of two results is a ratio of total times over the same volumes).

    Args:
        contenders: key -> batch function (engines).
        modules: key -> PyTorch module, timed as torch eager through the same windows.
        volumes: the benchmark volumes (C, *spatial each).
        window: the sliding-window settings.
        repeats: interleaved rounds.
    """
    calls = {key: (lambda f=f: [predict_volume(f, v, window) for v in volumes]) for key, f in contenders.items()}
    calls.update({key: (lambda m=m: [torch_predict_volume(m, v, window) for v in volumes])
                  for key, m in modules.items()})
    with torch.no_grad():
        seconds = interleaved_medians(calls, repeats, warmup=1)
    return {key: round(1000 * value / len(volumes), 3) for key, value in seconds.items()}
