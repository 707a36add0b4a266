"""The slab-wise inverse of the spacing step equals MONAI's ``Invertd`` (SRS-EXPORT-003, issue 17).

``geometry.invert`` undoes the crop and the orientation with MONAI's own inverses and the
spacing step by axis-aligned linear interpolation slab by slab (``pipeline.predict.resample``).
The reference is the whole chain replayed backwards by ``Invertd`` (``geometry._to_input_grid``).

The interpolated maps agree to ``VALUE_TOL``. The masks agree on every voxel except, at most,
voxels whose exact value is 0: an input voxel that falls exactly on a grid point of the zero
padding that undoes the crop. There ``Invertd``'s float64 affine algebra leaves a weight of about
1e-16 on the neighbouring voxel, so its value is ~1e-16 times that neighbour's, foreground or
background by the neighbour's sign (float noise); the slab path snaps such coordinates to the
grid point and gives exactly 0, background. The tests bound every differing voxel: the reference
map there is below ``TIE_TOL`` in magnitude, and the slab path says background. Random logits
are the worst case (a real model's map beside the crop box, a margin away from the body, is
confidently background, and then both paths agree): 437 (threshold 0.5) and 685 (0.3) of 15232
voxels in the not-canonical case, none in the canonical ones (``predict`` always preprocesses a
canonical array).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.predict import geometry, resample
from pipeline.predict.reader import InputImage, _canonical
from tests.export import tiny

VALUE_TOL = 1e-6  # float32 rounding of maps in [-2, 2] after float64 interpolation, both paths
TIE_TOL = 1e-12  # an Invertd value this small is float noise around an exact 0 (see above)


def _rotation_z(degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])


FLIPPED = np.array([[-0.8, 0, 0, 10], [0, 0, 2.5, -5], [0, -1.1, 0, 30], [0, 0, 0, 1]])  # axes L, I, A
OBLIQUE = np.eye(4)
OBLIQUE[:3, :3] = _rotation_z(20.0) @ np.diag([0.7, 0.9, 2.0])
OBLIQUE[:3, 3] = [3.0, -4.0, 12.0]
CASES = {  # affine, target spacing, crop
    "flipped-permuted-anisotropic-cropped": (FLIPPED, [1.0, 1.3, 2.0], True),
    "upsampled-uncropped": (FLIPPED, [0.6, 2.9, 0.7], False),
    "oblique-cropped": (OBLIQUE, [1.1, 0.8, 1.7], True),
    "already-at-target-spacing": (np.diag([0.8, 1.1, 2.5, 1.0]), [0.8, 1.1, 2.5], True),
    "not-canonical-flipped-cropped": (FLIPPED, [1.0, 1.3, 2.0], True),  # preprocess on the file's own axes
}


def _body(shape) -> np.ndarray:
    """int16 HU: air around a body (40 HU) with a bright box, as a NIfTI stores a CT."""
    volume = np.full(shape, -1000, dtype=np.int16)
    volume[3:-3, 3:-3, 2:-2] = 40
    volume[8:20, 7:17, 4:10] = 200
    return volume


def _prepared(name: str, shape=(34, 28, 16)):
    affine, spacing, crop = CASES[name]
    spec = tiny.spec(3, target_spacing_mm=spacing, crop_foreground=crop)
    image = InputImage(kind="nifti", array=_body(shape), affine=affine)
    return (image if name.startswith("not-canonical") else _canonical(image)), spec


def assert_same_mask(fast: np.ndarray, reference: np.ndarray, reference_tie: np.ndarray) -> None:
    """``fast`` equals ``reference`` except where the reference is a float-noise tie, and there
    ``fast`` is background (the exact value is 0)."""
    differ = fast != reference
    assert not (differ & ~reference_tie).any(), f"{int((differ & ~reference_tie).sum())} voxels differ off a tie"
    assert not fast[differ].any()


def _logits(shape, classes: int = 2, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 2.0, (classes, *shape)).astype(np.float32)


@pytest.mark.verifies("SRS-EXPORT-003")
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_two_class_mask_equals_invertd(name, threshold):
    image, spec = _prepared(name)
    data, network_input = geometry.preprocess(image.array, image.affine, spec)
    logits = _logits(network_input.shape[1:])
    excess = np.tanh(0.5 * (logits[1] - logits[0])) - np.float32(2.0 * threshold - 1.0)
    reference_map = geometry._to_input_grid(data, torch.from_numpy(excess[None]))[0]
    fast_map = geometry.to_input_mask(data, torch.from_numpy(excess[None]), lambda v: v[0])
    assert fast_map.shape == reference_map.shape == image.array.shape
    assert float(np.abs(fast_map - reference_map).max()) <= VALUE_TOL
    fast = geometry.invert(data, logits, threshold)
    reference = (reference_map > 0).astype(np.uint8)
    assert reference.any() and (reference == 0).any()
    assert_same_mask(fast, reference, np.abs(reference_map) <= TIE_TOL)


@pytest.mark.verifies("SRS-EXPORT-003")
@pytest.mark.parametrize("name", sorted(CASES))
def test_three_class_argmax_equals_invertd(name):
    image, spec = _prepared(name)
    data, network_input = geometry.preprocess(image.array, image.affine, spec)
    logits = _logits(network_input.shape[1:], classes=3, seed=4)
    probs = geometry._to_input_grid(data, torch.softmax(torch.from_numpy(logits), dim=0))
    assert_same_mask(geometry.invert(data, logits), probs.argmax(0), probs.max(0) <= TIE_TOL)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_two_dimensional_inverse_equals_invertd():
    spec = tiny.spec(2, target_spacing_mm=[0.7, 1.6])
    plane = _body((40, 30, 5))[:, :, 2]
    data, network_input = geometry.preprocess(plane, np.diag([1.0, 0.9, 1.0]), spec)
    logits = _logits(network_input.shape[1:])
    probs = geometry._to_input_grid(data, torch.softmax(torch.from_numpy(logits), dim=0))
    fast = geometry.invert(data, logits)
    assert fast.shape == plane.shape and probs.argmax(0).any()
    assert_same_mask(fast, probs.argmax(0), probs.max(0) <= TIE_TOL)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_slab_size_does_not_change_the_result(monkeypatch):
    image, spec = _prepared("flipped-permuted-anisotropic-cropped")
    data, network_input = geometry.preprocess(image.array, image.affine, spec)
    logits = _logits(network_input.shape[1:])
    whole = geometry.invert(data, logits)
    monkeypatch.setattr(resample, "SLAB_VOXELS", 1)  # one output plane per slab
    np.testing.assert_array_equal(geometry.invert(data, logits), whole)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_a_record_that_is_not_axis_aligned_takes_monai_inverse(monkeypatch):
    image, spec = _prepared("oblique-cropped")
    data, network_input = geometry.preprocess(image.array, image.affine, spec)
    logits = _logits(network_input.shape[1:])
    fast = geometry.invert(data, logits)
    calls = []
    monkeypatch.setattr(resample, "axis_scales", lambda xform, tol=0.0: calls.append(xform))
    np.testing.assert_array_equal(geometry.invert(data, logits), fast)
    assert calls  # the general path ran


@pytest.mark.verifies("SRS-EXPORT-003")
def test_axis_scales_reads_scale_and_offset_and_refuses_rotations():
    xform = np.array([[0.5, 0, 0, 1.25], [0, 2.0, 0, -0.5], [0, 0, 1.0, 0], [0, 0, 0, 1]])
    scale, offset = resample.axis_scales(xform)
    np.testing.assert_array_equal(scale, [0.5, 2.0, 1.0])
    np.testing.assert_array_equal(offset, [1.25, -0.5, 0.0])
    rotated = np.eye(4)
    rotated[:3, :3] = _rotation_z(5.0)
    assert resample.axis_scales(rotated) is None
    permuted = np.eye(4)[[1, 0, 2, 3]]
    assert resample.axis_scales(permuted) is None
