"""The one ONNX inference path: load a checked model file, run sliding windows through ORT.

Used by the export parity check, the compress measurements, ``python -m pipeline predict``
and V&V. Typical use::

    from pipeline.export.inference import OnnxModel, predict_volume, to_mask

    model = OnnxModel.load("release/models/compressed.onnx")   # checks <file>.sha256
    logits = predict_volume(model, volume, model.spec)          # volume: (C, *spatial) float32,
    mask = to_mask(logits)                                      # already preprocessed

``OnnxModel.load`` reads the file's bytes once, compares their SHA-256 with the digest
recorded beside the file (``<file>.sha256``, ``sha256sum`` format) or passed as
``expected_sha256``, and builds the ONNX Runtime session from exactly those bytes, so the
checked bytes are the bytes that run. A missing or different digest raises ``UserError``.
``model.spec`` is the ``PreprocessingSpec`` stored in the file's metadata (key
``preprocessing``); ``model.metadata`` holds all ``metadata_props``.

``predict_volume`` works in the preprocessed frame (target spacing, RAS, normalised, cropped):
it runs MONAI's sliding-window inference (window grid, padding and Gaussian blending as in
training validation, bit-identical to ``monai.inferers.sliding_window_inference``, with the
aggregation in NumPy; ``spec.patch_size``, ``spec.sw_overlap``, ``spec.sw_batch_size``) and
returns float32 logits (classes, *spatial).
``torch_predict_volume`` runs the same windows through a PyTorch module (parity reference).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from monai.data.utils import compute_importance_map, dense_patch_slices

from pipeline.errors import UserError
from pipeline.export.onnx_io import INPUT, OUTPUT, read_sidecar, sidecar_path
from pipeline.export.spec import PreprocessingSpec, WindowSpec

SPEC_KEY = "preprocessing"


@dataclass
class OnnxModel:
    """An ONNX file whose bytes matched their recorded SHA-256, ready to run."""

    path: Path
    sha256: str
    session: object
    metadata: dict = field(default_factory=dict)
    spec: PreprocessingSpec | None = None

    @classmethod
    def load(cls, path: Path, expected_sha256: str | None = None, threads: int = 2,
             require_spec: bool = True) -> "OnnxModel":
        """Check and open an ONNX file.

        Args:
            path: the ``.onnx`` file.
            expected_sha256: the digest to require; default: the one in ``<path>.sha256``.
            threads: ONNX Runtime intra-op threads.
            require_spec: fail when the metadata carries no preprocessing specification.
        """
        path = Path(path)
        if not path.is_file():
            raise UserError(f"model file {path} not found")
        blob = path.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        wanted = (expected_sha256 or read_sidecar(path) or "").lower()
        if not wanted:
            raise UserError(f"no SHA-256 recorded for {path} (expected {sidecar_path(path)}): "
                            "refusing to run a model file whose integrity cannot be checked")
        if digest != wanted:
            raise UserError(f"model file {path} fails its checksum: SHA-256 {digest[:16]}... "
                            f"!= recorded {wanted[:16]}... (file changed or substituted)")
        session = make_session(blob, threads)
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        spec = None
        if SPEC_KEY in metadata:
            try:
                spec = PreprocessingSpec.model_validate_json(metadata[SPEC_KEY])
            except ValueError as exc:
                raise UserError(f"{path}: preprocessing metadata is not valid: {exc}") from None
        elif require_spec:
            raise UserError(f"{path} carries no '{SPEC_KEY}' metadata: not exported by this pipeline")
        return cls(path=path, sha256=digest, session=session, metadata=metadata, spec=spec)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Logits for a batch (N, C, *spatial) float32."""
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def make_session(model: bytes | str | Path, threads: int = 2):
    """An ONNX Runtime CPU session with pinned thread counts (reproducible timings and results)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # no busy-waiting between runs: spinning ORT threads take the cores from whatever runs next
    # (another session, torch, the rest of the pipeline) on a machine with few cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for broken files
        raise UserError(f"ONNX Runtime cannot load the model: {type(exc).__name__}: {exc}") from None


def predict_volume(model, volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Sliding-window logits of one preprocessed volume through ONNX Runtime.

    Args:
        model: an ``OnnxModel``, an ``onnxruntime.InferenceSession`` or a callable on batches.
        volume: (channels, *spatial) float array in the preprocessed frame.
        spec: the window settings (a ``PreprocessingSpec`` or ``WindowSpec``).
    Returns:
        float32 logits (classes, *spatial).
    """
    return sliding_logits(_numpy_runner(model), volume, spec)


def torch_predict_volume(module: torch.nn.Module, volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """The same sliding windows through a PyTorch module (the parity reference)."""
    module = module.eval()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(batch)).float().numpy()

    return sliding_logits(run, volume, spec)


def sliding_logits(run: Callable[[np.ndarray], np.ndarray], volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """MONAI's sliding-window inference, in NumPy around a batch function.

    The window grid (``monai.data.utils.dense_patch_slices`` with MONAI's scan interval), the
    zero padding of short axes and the Gaussian blending map (``compute_importance_map``,
    clamped as MONAI does) are MONAI's, and the result equals ``sliding_window_inference``
    bit for bit; the NumPy aggregation avoids its per-call overhead, which on a 2-core CPU
    costs more than the compressed network itself.

    Args:
        run: (N, C, *patch) float32 -> (N, classes, *patch) logits.
        volume: (channels, *spatial), validated by ``check_volume``.
        spec: patch size, overlap and windows per call.
    """
    volume = check_volume(volume, spec)
    roi, shape = list(spec.patch_size), volume.shape[1:]
    pads = [(max(r - n, 0) // 2, max(r - n, 0) - max(r - n, 0) // 2) for r, n in zip(roi, shape)]
    padded = np.pad(volume, [(0, 0), *pads])
    size = padded.shape[1:]
    interval = [r if r == n else max(int(r * (1 - spec.sw_overlap)), 1) for r, n in zip(roi, size)]
    windows = dense_patch_slices(size, roi, interval)
    weight = blending_weights(tuple(roi))
    out, count = None, np.zeros(size, dtype=np.float32)
    for start in range(0, len(windows), spec.sw_batch_size):
        group = windows[start:start + spec.sw_batch_size]
        logits = np.asarray(run(np.stack([padded[(slice(None), *w)] for w in group])), dtype=np.float32)
        if out is None:
            out = np.zeros((logits.shape[1], *size), dtype=np.float32)
        for window, patch in zip(group, logits):
            out[(slice(None), *window)] += patch * weight
            count[window] += weight
    out /= count
    crop = tuple(slice(low, low + n) for (low, _), n in zip(pads, shape))
    return out[(slice(None), *crop)]


@functools.lru_cache(maxsize=8)
def blending_weights(patch_size: tuple[int, ...]) -> np.ndarray:
    """MONAI's Gaussian blending map for one window (sigma 0.125 x size), clamped as MONAI does."""
    weight = compute_importance_map(list(patch_size), mode="gaussian", sigma_scale=0.125, device="cpu")
    weight = weight.to(torch.float32)
    floor = max(float(weight[weight != 0].min()), 1e-3)
    return torch.clamp(weight, min=floor).numpy()


def to_mask(logits: np.ndarray) -> np.ndarray:
    """Class index per voxel (uint8) from logits (classes, *spatial)."""
    return np.asarray(logits).argmax(0).astype(np.uint8)


def check_volume(volume: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Return ``volume`` as contiguous float32, or raise ``UserError`` naming what is wrong."""
    volume = np.asarray(volume)
    if not (np.issubdtype(volume.dtype, np.floating) or np.issubdtype(volume.dtype, np.integer)) \
            or volume.dtype == np.bool_:
        raise UserError(f"input dtype {volume.dtype} is not supported: expected real numbers (float or int)")
    expected = spec.spatial_dims + 1
    if volume.ndim != expected or volume.shape[0] != spec.in_channels:
        raise UserError(f"input shape {tuple(volume.shape)} is not supported: expected {expected} axes "
                        f"(channels={spec.in_channels}, then {spec.spatial_dims} spatial axes)")
    if min(volume.shape[1:]) < 1:
        raise UserError(f"input shape {tuple(volume.shape)} has an empty spatial axis")
    volume = np.ascontiguousarray(volume, dtype=np.float32)
    if not np.isfinite(volume).all():
        bad = int((~np.isfinite(volume)).sum())
        raise UserError(f"input contains {bad} NaN or infinite value(s): refusing to predict")
    return volume


def _numpy_runner(model) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(model, OnnxModel) or not hasattr(model, "run"):
        return model
    return lambda batch: model.run([OUTPUT], {INPUT: np.ascontiguousarray(batch, dtype=np.float32)})[0]
