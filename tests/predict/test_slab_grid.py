"""The training chain with its grid evaluated slab by slab equals the plain chain bit for bit
(SRS-EXPORT-003, issue 17): ``geometry.preprocess`` is the training preprocessing, in less memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.networks.layers import AffineTransform
from monai.transforms.spatial import functional as spatial_functional

from pipeline.predict import geometry, slab_grid
from pipeline.preprocess import transforms
from tests.export import tiny
from tests.predict.test_inverse_geometry import CASES, _body, _prepared


def _plain_chain(image_array: np.ndarray, affine: np.ndarray, spec) -> MetaTensor:
    """What training runs: the chain on the float32 image, MONAI's whole-grid resampling."""
    chain = transforms.build(spec, spec.spatial_dims, keys=("image",))
    image = MetaTensor(torch.from_numpy(np.asarray(image_array, dtype=np.float32))[None],
                       affine=torch.as_tensor(geometry._affine4(affine), dtype=torch.float64))
    return chain({"image": image})["image"]


def _same_records(ours: MetaTensor, theirs: MetaTensor) -> None:
    assert [op["class"] for op in ours.applied_operations] == [op["class"] for op in theirs.applied_operations]
    assert [op["orig_size"] for op in ours.applied_operations] == [op["orig_size"] for op in theirs.applied_operations]
    assert torch.equal(ours.affine, theirs.affine)


@pytest.mark.verifies("SRS-EXPORT-003")
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("slab_voxels", [1, 300, slab_grid.SLAB_VOXELS])
def test_network_input_equals_the_plain_chain_bit_for_bit(name, slab_voxels, monkeypatch):
    monkeypatch.setattr(slab_grid, "SLAB_VOXELS", slab_voxels)
    image, spec = _prepared(name)
    data, network_input = geometry.preprocess(image.array, image.affine, spec)
    reference = _plain_chain(image.array, image.affine, spec)
    assert image.array.dtype == np.int16 and network_input.dtype == np.float32
    np.testing.assert_array_equal(network_input, reference.as_tensor().numpy())
    _same_records(data["image"], reference)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_two_dimensional_network_input_equals_the_plain_chain(monkeypatch):
    monkeypatch.setattr(slab_grid, "SLAB_VOXELS", 7)
    spec = tiny.spec(2, target_spacing_mm=[0.7, 1.6])
    plane = _body((40, 30, 5))[:, :, 2]
    affine = np.diag([1.0, 0.9, 1.0])
    data, network_input = geometry.preprocess(plane, affine, spec)
    np.testing.assert_array_equal(network_input, _plain_chain(plane, affine, spec).as_tensor().numpy())


@pytest.mark.verifies("SRS-EXPORT-003")
def test_float64_pixels_handed_over_give_the_same_input():
    image, spec = _prepared("flipped-permuted-anisotropic-cropped")
    pixels = geometry.as_float64(image.array)
    assert pixels.dtype == torch.float64 and geometry.as_float64(pixels) is pixels
    _, from_pixels = geometry.preprocess(pixels, image.affine, spec)
    _, from_array = geometry.preprocess(image.array, image.affine, spec)
    np.testing.assert_array_equal(from_pixels, from_array)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_float64_images_are_read_as_float32_first_as_in_training():
    values = np.array([[0.1, 1.0 / 3.0]], dtype=np.float64)
    np.testing.assert_array_equal(geometry.as_float64(values).numpy(), values.astype(np.float32))


@pytest.mark.verifies("SRS-EXPORT-003")
@pytest.mark.parametrize("slab_voxels", [1, 40, 10_000])
def test_one_image_equals_monai_rounded_to_float32(slab_voxels, monkeypatch):
    monkeypatch.setattr(slab_grid, "SLAB_VOXELS", slab_voxels)
    src = torch.randn((1, 2, 6, 7, 5), dtype=torch.float64)
    theta = torch.tensor([[0.9, 0, 0, 0.3], [0, 1.2, 0, -0.1], [0, 0, 0.8, 0.2], [0, 0, 0, 1]], dtype=torch.float64)
    kwargs = dict(normalized=False, mode="bilinear", padding_mode="border", align_corners=False)
    ours = slab_grid.SlabAffineTransform(**kwargs)(src, theta, spatial_size=(5, 9, 4))
    theirs = AffineTransform(**kwargs)(src, theta, spatial_size=(5, 9, 4))
    assert ours.dtype == torch.float32 and torch.equal(ours, theirs.float())


@pytest.mark.verifies("SRS-EXPORT-003")
def test_batches_are_left_to_monai():
    src = torch.randn((2, 1, 6, 7, 5), dtype=torch.float64)
    theta = torch.tensor([[0.9, 0, 0, 0.3], [0, 1.2, 0, -0.1], [0, 0, 0.8, 0.2], [0, 0, 0, 1]], dtype=torch.float64)
    kwargs = dict(normalized=False, mode="bilinear", padding_mode="border", align_corners=False)
    ours = slab_grid.SlabAffineTransform(**kwargs)(src, theta, spatial_size=(5, 9, 4))
    theirs = AffineTransform(**kwargs)(src, theta, spatial_size=(5, 9, 4))
    assert torch.equal(ours, theirs)


@pytest.mark.verifies("SRS-EXPORT-003")
def test_the_patch_is_undone_after_the_block_even_on_error():
    original = spatial_functional.AffineTransform
    with pytest.raises(RuntimeError):
        with slab_grid.slab_resampling():
            assert spatial_functional.AffineTransform is slab_grid.SlabAffineTransform
            raise RuntimeError("boom")
    assert spatial_functional.AffineTransform is original
