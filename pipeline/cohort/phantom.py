"""Anatomy-like CT phantoms defined in millimetres and sampled on any scanner grid.

A phantom is a body outline with a fat rim, a liver-like organ, two kidney-like organs,
a spine, and one target structure (a lesion of varying size, shape, contrast and
position). Defining it in patient coordinates means that two sites with different
pixel spacings and slice thicknesses see the same anatomy on different voxel grids,
as real scanners do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

AIR_HU = -1000.0
FAT_HU = -100.0
SOFT_HU = 40.0
LIVER_HU = 60.0
KIDNEY_HU = 150.0
BONE_HU = 700.0


@dataclass(frozen=True)
class Ellipsoid:
    """An axis-aligned ellipsoid in patient coordinates (mm), rotated about z by ``angle``."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    angle: float = 0.0

    def inside(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        dx, dy, dz = x - self.center[0], y - self.center[1], z - self.center[2]
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        r = (u / self.radii[0]) ** 2 + (v / self.radii[1]) ** 2 + (dz / self.radii[2]) ** 2
        return r <= 1.0


@dataclass(frozen=True)
class Anatomy:
    """One patient's anatomy; ``lesion_hu`` is the lesion's attenuation."""

    body: Ellipsoid  # z radius is ignored: the body spans the whole scan
    liver: Ellipsoid
    kidneys: tuple[Ellipsoid, Ellipsoid]
    spine: Ellipsoid
    lesion: tuple[Ellipsoid, ...]  # a union of ellipsoids gives irregular shapes
    lesion_hu: float


@dataclass(frozen=True)
class Grid:
    """Voxel centres: ``origin`` is the centre of voxel (0, 0, 0) as (x, y, z) in mm."""

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # (column, row, slice) spacing in mm
    shape: tuple[int, int, int]  # (slices, rows, columns)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nz, ny, nx = self.shape
        x = self.origin[0] + self.spacing[0] * np.arange(nx, dtype=np.float32)
        y = self.origin[1] + self.spacing[1] * np.arange(ny, dtype=np.float32)
        z = self.origin[2] + self.spacing[2] * np.arange(nz, dtype=np.float32)
        zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
        return xx, yy, zz


def sample_anatomy(rng: random.Random, fov_mm: float, z_extent_mm: float) -> Anatomy:
    """Draw one patient's anatomy that fits a field of view of ``fov_mm`` (square, centred)."""
    scale = rng.uniform(0.88, 1.05)
    bx, by = 0.42 * fov_mm * scale, 0.31 * fov_mm * scale
    shift = (rng.uniform(-0.04, 0.04) * fov_mm, rng.uniform(-0.03, 0.03) * fov_mm)
    body = Ellipsoid((shift[0], shift[1], 0.0), (bx, by, 1e9))
    liver = Ellipsoid(
        (shift[0] - 0.35 * bx, shift[1] - 0.05 * by, rng.uniform(-0.05, 0.05) * z_extent_mm),
        (0.5 * bx * rng.uniform(0.92, 1.08), 0.62 * by * rng.uniform(0.92, 1.08), 0.42 * z_extent_mm),
        rng.uniform(-0.3, 0.3),
    )
    kidneys = tuple(
        Ellipsoid(
            (shift[0] + side * 0.45 * bx, shift[1] + 0.35 * by, -0.15 * z_extent_mm),
            (0.12 * bx, 0.2 * by, 0.18 * z_extent_mm),
            side * 0.4,
        )
        for side in (-1.0, 1.0)
    )
    spine = Ellipsoid((shift[0], shift[1] + 0.7 * by, 0.0), (0.12 * bx, 0.15 * by, 1e9))
    lesion = _sample_lesion(rng, liver, bx)
    contrast = rng.choice((-1.0, 1.0)) * rng.uniform(45.0, 110.0)
    return Anatomy(body, liver, kidneys, spine, lesion, LIVER_HU + contrast)  # type: ignore[arg-type]


def render(anatomy: Anatomy, grid: Grid, noise_hu: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sample the phantom on ``grid``: CT numbers (HU, float32) and the lesion mask (uint8)."""
    x, y, z = grid.coordinates()
    hu = np.full(grid.shape, AIR_HU, dtype=np.float32)
    body = anatomy.body.inside(x, y, np.zeros_like(z))
    inner = Ellipsoid(anatomy.body.center, tuple(r - 3.0 for r in anatomy.body.radii[:2]) + (1e9,))
    hu[body] = FAT_HU
    hu[inner.inside(x, y, np.zeros_like(z))] = SOFT_HU
    hu[anatomy.liver.inside(x, y, z) & body] = LIVER_HU
    for kidney in anatomy.kidneys:
        hu[kidney.inside(x, y, z) & body] = KIDNEY_HU
    hu[anatomy.spine.inside(x, y, np.zeros_like(z))] = BONE_HU
    mask = np.zeros(grid.shape, dtype=bool)
    for part in anatomy.lesion:
        mask |= part.inside(x, y, z)
    mask &= anatomy.liver.inside(x, y, z)
    hu[mask] = anatomy.lesion_hu
    # partial-volume blur in voxel units, then scanner noise
    sigma = (0.6, 0.7, 0.7)
    hu = ndimage.gaussian_filter(hu, sigma=sigma, mode="nearest")
    if noise_hu > 0:
        hu += rng.normal(0.0, noise_hu, size=hu.shape).astype(np.float32)
    return hu.astype(np.float32), mask.astype(np.uint8)


def _sample_lesion(rng: random.Random, liver: Ellipsoid, bx: float) -> tuple[Ellipsoid, ...]:
    base = rng.uniform(0.14, 0.26) * bx
    lx, ly, lz = liver.center
    cx = lx + rng.uniform(-0.35, 0.35) * liver.radii[0]
    cy = ly + rng.uniform(-0.35, 0.35) * liver.radii[1]
    cz = lz + rng.uniform(-0.3, 0.3) * liver.radii[2]
    parts = [Ellipsoid((cx, cy, cz), (base * rng.uniform(0.8, 1.3), base * rng.uniform(0.8, 1.3),
                                      base * rng.uniform(1.0, 1.8)), rng.uniform(0, np.pi))]
    for _ in range(rng.randint(0, 2)):  # lobulated shapes
        offset = [rng.uniform(-0.7, 0.7) * base for _ in range(3)]
        parts.append(Ellipsoid((cx + offset[0], cy + offset[1], cz + offset[2]),
                               (base * rng.uniform(0.5, 0.8),) * 2 + (base * rng.uniform(0.7, 1.2),)))
    return tuple(parts)
