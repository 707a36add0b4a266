"""The inference runtimes an ONNX file can run on, behind one call: ``engine(batch) -> logits``.

The released files are ONNX; which runtime executes them is chosen by measurement in the
compress stage (``python -m pipeline compress``) and recorded in each file's metadata, so
``predict``, the export parity gate and V&V all run on the runtime that was measured:

=====================  ==========================================================================
``onnxruntime-cpu``    ONNX Runtime's CPU execution provider (the reference; always installed), the
                       windows of a batch run side by side (``WindowParallel``)
``openvino-cpu``       Intel OpenVINO's CPU plugin (the ``openvino`` package), reading the ONNX
                       bytes directly; compiled for a static window batch (see below)
``onnxruntime-cuda``   ONNX Runtime's CUDA provider, where ``onnxruntime-gpu`` and a GPU exist
=====================  ==========================================================================

Why OpenVINO is compiled for a static shape: with dynamic axes its CPU plugin picks generic
kernels; reshaped to ``(sw_batch_size, C, *patch)`` it ran the default teacher's sliding
windows 1.36x faster than with dynamic axes (and 1.38x faster than ONNX Runtime's CPU
provider, whose 3D convolutions are im2col + SGEMM). A short last group of windows is padded
to the full batch and the padding's outputs are dropped. Precision is pinned to f32, so a CPU
with bf16 support does not silently lower it.

Every engine is built from the bytes the caller already checked against their SHA-256
(``pipeline.runtime.model``), never from the path again.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from pipeline.core.errors import UserError

INPUT, OUTPUT = "image", "logits"
ORT_CPU, OPENVINO_CPU, ORT_CUDA = "onnxruntime-cpu", "openvino-cpu", "onnxruntime-cuda"
RUNTIMES = (ORT_CPU, OPENVINO_CPU, ORT_CUDA)


@dataclass(frozen=True)
class Engine:
    """A model ready to run on one runtime: ``engine(batch)`` gives float32 logits."""

    runtime: str
    version: str
    run: Callable[[np.ndarray], np.ndarray]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, classes, *spatial) for a batch (N, C, *spatial)."""
        return np.asarray(self.run(np.ascontiguousarray(batch, dtype=np.float32)), dtype=np.float32)


def available() -> list[str]:
    """The runtimes that can run a model on this machine, reference first."""
    found = [ORT_CPU]
    if _openvino_core() is not None:
        found.append(OPENVINO_CPU)
    if "CUDAExecutionProvider" in _ort().get_available_providers():
        found.append(ORT_CUDA)
    return found


def version(runtime: str) -> str:
    """The installed version of ``runtime``'s package."""
    _check_name(runtime)
    if runtime == OPENVINO_CPU:
        import openvino

        return openvino.__version__.split("-")[0]
    return _ort().__version__


def open_engine(model: bytes, runtime: str = ORT_CPU, threads: int = 2,
                window_shape: Sequence[int] | None = None) -> Engine:
    """Build an engine for ONNX ``model`` bytes on ``runtime``.

    Args:
        model: the ONNX file's bytes (already checked by the caller).
        runtime: one of ``RUNTIMES``; must be in ``available()``.
        threads: intra-op threads (pinned: reproducible timings and results).
        window_shape: ``(batch, C, *patch)`` the model will mostly be called with; OpenVINO is
            compiled for it (other shapes still run, in chunks of that batch when they fit).
    """
    _check_name(runtime)
    # the reference is always installed: asking ``available()`` would import OpenVINO and probe
    # its devices, 0.26-0.44 s of every export, verify and predict process that runs ONNX Runtime
    if runtime != ORT_CPU and runtime not in available():
        raise UserError(f"runtime {runtime!r} is not available here (available: {', '.join(available())}); "
                        f"install its package or choose another with --runtime")
    if runtime == OPENVINO_CPU:
        return Engine(runtime, version(runtime), _openvino(model, threads, window_shape))
    return Engine(runtime, version(runtime), _onnxruntime(model, threads, runtime == ORT_CUDA))


def ort_session(model: bytes | str, threads: int = 2, cuda: bool = False):
    """An ONNX Runtime session with pinned threads that do not spin between runs.

    Spinning intra-op threads take the cores from whatever runs next (another session, torch,
    the rest of the pipeline) on a machine with few cores.
    """
    ort = _ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]
    try:
        return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                    providers=providers)
    except Exception as exc:  # ORT raises its own exception types for broken files
        raise UserError(f"ONNX Runtime cannot load the model: {type(exc).__name__}: {exc}") from None


def _onnxruntime(model: bytes, threads: int, cuda: bool) -> Callable[[np.ndarray], np.ndarray]:
    session = ort_session(model, threads, cuda)
    whole = lambda batch: session.run([OUTPUT], {INPUT: batch})[0]  # noqa: E731
    if cuda or threads <= 1:
        return whole
    return WindowParallel(ort_session(model, 1), threads, whole)


class WindowParallel:
    """ONNX Runtime's CPU provider running the windows of a batch side by side, one thread each.

    A batch of at least ``threads`` windows is split into ``threads`` parts run concurrently on
    one single-threaded session (``InferenceSession.run`` is thread-safe and releases the GIL);
    a smaller batch runs on the ``threads``-threaded session. Each window's logits are the same
    either way (a window's arithmetic does not depend on its batch or on the thread count). Why:
    with intra-op threads every node of the graph is split across the cores and its threads meet
    at a barrier, about 50 times per window batch of the compressed student. On the 2-core
    machine (15 interleaved rounds over 4 validation volumes, 2026-11-27) the student's sliding
    windows took 57.7 ms a volume on one two-threaded session and 50.9 ms split by window, beside
    torch eager at 65.5 ms; ``make bench BENCH=export`` times both ONNX Runtime paths side by side.
    """

    def __init__(self, session, threads: int, whole: Callable[[np.ndarray], np.ndarray]):
        self._session, self._threads, self._whole = session, threads, whole
        self._pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="ort-window")

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run([OUTPUT], {INPUT: batch})[0]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] < self._threads:
            return self._whole(batch)
        first, *rest = np.array_split(batch, self._threads)
        pending = [self._pool.submit(self._run, np.ascontiguousarray(part)) for part in rest]
        done = [self._run(np.ascontiguousarray(first))]
        return np.concatenate(done + [future.result() for future in pending])


def _openvino(model: bytes, threads: int, window_shape: Sequence[int] | None) -> Callable[[np.ndarray], np.ndarray]:
    core = _openvino_core()
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1}
    try:
        network = core.read_model(model)
        dynamic = core.compile_model(network, "CPU", config).create_infer_request()
        static = None
        if window_shape is not None:
            shaped = core.read_model(model)
            shaped.reshape({INPUT: list(window_shape)})
            static = core.compile_model(shaped, "CPU", config).create_infer_request()
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
        raise UserError(f"OpenVINO cannot load the model: {type(exc).__name__}: {exc}") from None
    fixed = tuple(window_shape) if window_shape is not None else None

    def run(batch: np.ndarray) -> np.ndarray:
        if static is None or tuple(batch.shape[1:]) != fixed[1:]:
            return dynamic.infer({INPUT: batch})[OUTPUT].copy()
        size, parts = fixed[0], []
        for start in range(0, batch.shape[0], size):
            part = batch[start:start + size]
            count = part.shape[0]
            if count < size:
                part = np.concatenate([part, np.zeros((size - count, *part.shape[1:]), part.dtype)])
            parts.append(static.infer({INPUT: part})[OUTPUT][:count].copy())
        return np.concatenate(parts)

    return run


def _check_name(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise UserError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")


def _ort():
    import onnxruntime

    return onnxruntime


@functools.lru_cache(maxsize=1)
def _openvino_core():
    try:
        import openvino
    except ImportError:
        return None
    core = openvino.Core()
    return core if "CPU" in core.available_devices else None
