"""Perturbed copies of a preprocessed image: noise, intensity change, blur (pure NumPy/SciPy).

Each function takes an image ``(channels, *spatial)`` in the model's normalised intensity units
and returns a new float32 array; the input is never changed. ``bounds`` clips the result to the
range the preprocessing produces (a CT window maps to [0, 1], so an acquisition that differs
before windowing still ends up inside it); None leaves it unclipped (z-score normalisation).
The noise draws from the generator it is given: the same seed gives the same copy, bit for bit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

Bounds = tuple[float, float] | None


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, bounds: Bounds = None) -> np.ndarray:
    """``image`` plus zero-mean Gaussian noise of standard deviation ``sigma``.

    Args:
        image: ``(channels, *spatial)``.
        sigma: standard deviation in normalised intensity units (> 0).
        rng: the generator drawn from (seeded by the caller).
        bounds: clip the result to ``(low, high)``; None: no clipping.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    image = np.asarray(image, dtype=np.float32)
    noisy = image + rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return clip(noisy, bounds)


def intensity(image: np.ndarray, scale: float, shift: float, bounds: Bounds = None) -> np.ndarray:
    """``scale * image + shift`` (a calibration drift), clipped to ``bounds``."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    image = np.asarray(image, dtype=np.float32)
    return clip(image * np.float32(scale) + np.float32(shift), bounds)


def blur(image: np.ndarray, sigma_mm: float, spacing: Sequence[float], bounds: Bounds = None) -> np.ndarray:
    """Gaussian blur of each channel with ``sigma_mm`` mm along every spatial axis.

    Args:
        image: ``(channels, *spatial)``.
        sigma_mm: standard deviation in mm (> 0); per axis ``sigma_mm / spacing`` voxels.
        spacing: voxel size in mm along each spatial axis.
        bounds: clip the result to ``(low, high)``; None: no clipping.
    """
    image = np.asarray(image, dtype=np.float32)
    if not sigma_mm > 0:
        raise ValueError(f"sigma_mm must be > 0, got {sigma_mm}")
    if len(spacing) != image.ndim - 1:
        raise ValueError(f"spacing has {len(spacing)} values for {image.ndim - 1} spatial axes")
    sigma = [0.0, *(sigma_mm / float(s) for s in spacing)]
    return clip(gaussian_filter(image, sigma=sigma, mode="nearest").astype(np.float32), bounds)


def clip(image: np.ndarray, bounds: Bounds) -> np.ndarray:
    """``image`` clipped to ``bounds`` (float32); unchanged when ``bounds`` is None."""
    image = np.asarray(image, dtype=np.float32)
    return image if bounds is None else np.clip(image, bounds[0], bounds[1]).astype(np.float32)


def bounds_of(normalisation) -> Bounds:
    """The intensity range a normalisation produces: [0, 1] for a CT window, None for z-scores."""
    return (0.0, 1.0) if getattr(normalisation, "kind", None) == "ct_window" else None


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """L-inf distance of two images (what an adversarial budget bounds)."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
