"""Axis-aligned linear resampling, one slab at a time: the inverse spacing step in bounded memory.

MONAI inverts ``Spacingd`` with ``grid_sample`` on a dense sampling grid in float64: for a
512x512x400 input that is 56 bytes per output voxel (the base grid, the grid and the output) on
top of the map itself, 7 GB in all. When the recorded transform maps every output axis onto the
same source axis (a scale and an offset per axis: always the case for ``Spacingd`` with its
default ``diagonal=False``, even on oblique inputs), trilinear interpolation is separable: each
output voxel at index ``i`` reads source coordinate ``c = scale * i + offset`` per axis, clamped
to ``[0, n - 1]`` (``padding_mode="border"``), and mixes its two neighbours linearly. Doing that
axis by axis on slabs of the first axis gives the same values as ``grid_sample`` (bilinear,
``align_corners=False``, border padding) up to float64 rounding, and each slab is reduced to
its class index (``decide``) at once, so only the uint8 result is ever whole.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

OFF_DIAGONAL_TOL = 1e-10  # index units per index: float noise of an axis-aligned affine, not a rotation
SNAP_TOL = 1e-9  # index units: float noise of an affine product, far below any real sub-voxel offset
SLAB_VOXELS = 2_000_000  # output voxels per slab (x channels x 8 bytes of float64 working memory)


def axis_scales(xform: np.ndarray, tol: float = OFF_DIAGONAL_TOL) -> tuple[np.ndarray, np.ndarray] | None:
    """``(scale, offset)`` per axis when ``xform`` maps each axis onto itself, else ``None``.

    Args:
        xform: (ndim + 1) square homogeneous matrix, output index -> source index.
        tol: largest off-diagonal entry still read as float noise.
    """
    xform = np.asarray(xform, dtype=np.float64)
    dims = xform.shape[0] - 1
    linear = xform[:dims, :dims]
    off = linear - np.diag(np.diag(linear))
    if not np.all(np.isfinite(xform)) or np.abs(off).max(initial=0.0) > tol \
            or np.any(np.abs(np.diag(linear)) < tol) or not np.allclose(xform[dims], np.eye(dims + 1)[dims]):
        return None
    return np.diag(linear).copy(), xform[:dims, dims].copy()


def linear_slabs(source: np.ndarray, scale: np.ndarray, offset: np.ndarray, shape: tuple[int, ...],
                 decide: Callable[[np.ndarray], np.ndarray], slab_voxels: int | None = None) -> np.ndarray:
    """Sample ``source`` linearly at ``scale * index + offset`` on an output grid of ``shape``.

    Args:
        source: (channels, *n) map on the source grid.
        scale: per spatial axis, source index per output index.
        offset: per spatial axis, the source index of output index 0.
        shape: the output's spatial shape.
        decide: (channels, *slab) float32 -> (*slab) result (e.g. ``> 0`` or the argmax), per slab.
        slab_voxels: output voxels per slab (working memory; default ``SLAB_VOXELS``).
    Returns:
        the decided output, (*shape), of ``decide``'s dtype.
    """
    source = np.asarray(source)
    dims = source.ndim - 1
    if len(scale) != dims or len(offset) != dims or len(shape) != dims:
        raise ValueError(f"a {dims}D map needs {dims} scales, offsets and output sizes")
    taps = [_taps(float(s), float(o), int(m), int(n)) for s, o, m, n in zip(scale, offset, shape, source.shape[1:])]
    slab_voxels = SLAB_VOXELS if slab_voxels is None else slab_voxels
    step = max(1, slab_voxels // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    out = None
    for start in range(0, shape[0], step):
        stop = min(start + step, shape[0])
        low, high, weight = (t[start:stop] for t in taps[0])
        first = int(low.min())
        block = source[:, first:int(high.max()) + 1]
        values = _mix(block, low - first, high - first, weight, axis=1)
        for axis in range(1, dims):
            values = _mix(values, *taps[axis], axis=axis + 1)
        decided = np.asarray(decide(values.astype(np.float32)))
        if out is None:
            out = np.empty(tuple(shape), dtype=decided.dtype)
        out[start:stop] = decided
    return out


def _taps(scale: float, offset: float, size: int, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper neighbour and the upper one's weight for each output index of one axis.

    A coordinate within ``SNAP_TOL`` of a grid point is that grid point: its exact value is an
    integer (spacings are rational), and the rounding of the affine algebra must not give a
    neighbour a weight of 1e-16 (next to the zero padding that undoes the crop, such a weight
    turns an exact 0, background, into a tiny value whose sign is the neighbour's).
    """
    coord = scale * np.arange(size, dtype=np.float64) + offset
    nearest = np.rint(coord)
    coord = np.where(np.abs(coord - nearest) <= SNAP_TOL, nearest, coord)
    coord = np.clip(coord, 0.0, source - 1.0)
    low = np.floor(coord).astype(np.int64)
    return low, np.minimum(low + 1, source - 1), coord - low


def _mix(values: np.ndarray, low: np.ndarray, high: np.ndarray, weight: np.ndarray, axis: int) -> np.ndarray:
    """Linear mix of ``values`` along ``axis`` at the given neighbours (float64)."""
    shape = [1] * values.ndim
    shape[axis] = -1
    weight = weight.reshape(shape)
    lower = np.take(values, low, axis=axis).astype(np.float64, copy=False)
    upper = np.take(values, high, axis=axis).astype(np.float64, copy=False)
    lower *= 1.0 - weight
    upper *= weight
    lower += upper
    return lower
