"""MONAI's resampling of the training chain, evaluated slab by slab: the same numbers in bounded memory.

``Spacingd`` resamples through ``monai.networks.layers.AffineTransform``, which asks
``torch.nn.functional.affine_grid`` for the sampling grid of the whole output at once (in
float64: a base grid of 4 and a grid of 3 values per output voxel, 56 bytes; 2 GB for a
512x512x400 CT resampled to 478x478x160) and then calls ``grid_sample``. Every output voxel
depends only on its own grid entry, and each grid entry only on its own base-grid row, so the
output can be produced one slab of its first spatial axis at a time: the base grid of a slab is
the same rows of the same ``linspace`` values, multiplied by the same ``theta`` with the same
``bmm``, and ``grid_sample`` on those rows returns the same values (rounded to float32 slab by
slab, as MONAI rounds the whole output right after). The chain
(``pipeline.preprocess.transforms.build``) still runs as it is, with its records; only the grid
is never whole. ``tests/predict/test_slab_grid.py`` checks the result bit for bit against the
plain chain; anything but a single-image 2D/3D call falls back to MONAI's own ``forward``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from monai.networks.layers import AffineTransform
from monai.networks.utils import to_norm_affine
from monai.transforms.spatial import functional as spatial_functional
from monai.utils import ensure_tuple

SLAB_VOXELS = 1_000_000  # output voxels per slab: 56 bytes each of grid working memory in float64


class SlabAffineTransform(AffineTransform):
    """``AffineTransform`` whose grid and ``grid_sample`` run on slabs of the output's first axis."""

    def forward(self, src: torch.Tensor, theta: torch.Tensor, spatial_size=None) -> torch.Tensor:
        prepared = self._theta(src, theta, spatial_size)
        if prepared is None:
            return super().forward(src, theta, spatial_size)
        theta, dst_size = prepared
        source = src.contiguous()
        # float32 slabs: both callers in MONAI turn the result into float32 at once (``spatial_resample``,
        # ``affine_func``); rounding each slab instead gives the same values without the float64 whole
        out = torch.empty(dst_size, dtype=torch.float32, device=source.device)
        spatial = list(dst_size[2:])
        rows = max(1, SLAB_VOXELS // max(1, int(torch.tensor(spatial[1:]).prod())))
        for start in range(0, spatial[0], rows):
            stop = min(start + rows, spatial[0])
            grid = _grid_rows(theta[:, :len(spatial)], spatial, start, stop, self.align_corners)
            out[:, :, start:stop] = torch.nn.functional.grid_sample(
                input=source, grid=grid, mode=self.mode, padding_mode=self.padding_mode,
                align_corners=self.align_corners)
        return out

    def _theta(self, src: torch.Tensor, theta: torch.Tensor, spatial_size) -> tuple[torch.Tensor, tuple] | None:
        """``theta`` normalised exactly as ``AffineTransform.forward`` does it, and the output size;
        ``None`` for the cases left to MONAI (batches, unusual ``theta`` shapes, gradients)."""
        if not isinstance(theta, torch.Tensor) or not isinstance(src, torch.Tensor) or src.dim() not in (4, 5) \
                or src.shape[0] != 1 or theta.dim() not in (2, 3) or not torch.is_floating_point(theta) \
                or src.requires_grad or theta.requires_grad:
            return None
        theta = (theta[None] if theta.dim() == 2 else theta).clone()
        sr = src.dim() - 2
        if tuple(theta.shape) != (1, sr + 1, sr + 1):
            return None
        src_size = tuple(src.shape)
        dst_size = src_size
        if self.spatial_size is not None:
            dst_size = src_size[:2] + self.spatial_size
        if spatial_size is not None:
            dst_size = src_size[:2] + ensure_tuple(spatial_size)
        if not self.normalized:
            theta = to_norm_affine(affine=theta, src_size=src_size[2:], dst_size=dst_size[2:],
                                   align_corners=self.align_corners, zero_centered=self.zero_centered)
        if self.reverse_indexing:
            rev_idx = torch.as_tensor(range(sr - 1, -1, -1), device=src.device)
            theta[:, :sr] = theta[:, rev_idx]
            theta[:, :, :sr] = theta[:, :, rev_idx]
        return theta, tuple(int(v) for v in dst_size)


@contextlib.contextmanager
def slab_resampling() -> Iterator[None]:
    """Within the block, MONAI's spatial resampling (``Spacingd``) uses ``SlabAffineTransform``."""
    original = spatial_functional.AffineTransform
    spatial_functional.AffineTransform = SlabAffineTransform
    try:
        yield
    finally:
        spatial_functional.AffineTransform = original


def _grid_rows(theta: torch.Tensor, size: list[int], start: int, stop: int, align_corners: bool) -> torch.Tensor:
    """Rows ``start:stop`` (first spatial axis) of ``affine_grid(theta, (1, C, *size))``, computed as
    ATen's ``affine_grid_generator`` does: base grid ``[x, y, (z,) 1]`` from ``linspace(-1, 1)``
    (scaled by ``(n - 1) / n`` without ``align_corners``), times ``theta`` transposed by ``bmm``."""
    dims = len(size)
    base = torch.empty((1, stop - start, *size[1:], dims + 1), dtype=theta.dtype, device=theta.device)
    for channel in range(dims):  # channel 0 runs along the last axis (x), as in ATen
        axis = dims - 1 - channel
        values = _linspace(size[axis], align_corners, theta)
        if axis == 0:
            values = values[start:stop]
        shape = [1] * (dims + 1)
        shape[axis + 1] = -1
        base[..., channel] = values.view(shape[1:])
    base[..., dims] = 1
    grid = base.view(1, -1, dims + 1).bmm(theta.transpose(1, 2))
    return grid.view(1, stop - start, *size[1:], dims)


def _linspace(steps: int, align_corners: bool, like: torch.Tensor) -> torch.Tensor:
    """ATen's ``linspace_from_neg_one``."""
    if steps <= 1:
        return torch.zeros(1, dtype=like.dtype, device=like.device)
    grid = torch.linspace(-1, 1, steps, dtype=like.dtype, device=like.device)
    if not align_corners:
        grid = grid * (steps - 1) / steps
    return grid
