"""Explainability on a tiny random-init MONAI UNet: Grad-CAM, occlusion, PNG evidence, sanity metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.networks.nets import UNet
from PIL import Image

from pipeline.verify import evidence, explain

pytestmark = pytest.mark.verifies("SRS-VNV-005")


@pytest.fixture(scope="module")
def case():
    torch.manual_seed(0)
    net = UNet(3, 1, 2, channels=[4, 8, 16], strides=[2, 2], num_res_units=1).eval()
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 16)).astype(np.float32)
    truth = np.zeros(image.shape, dtype=np.uint8)
    truth[12:20, 12:20, 6:10] = 1
    image[truth > 0] += 1.0
    return net, image, truth


def test_gradcam_uses_the_masked_score_and_returns_an_image_sized_map(case):
    net, image, truth = case
    weights = [p.detach().clone() for p in net.parameters()]
    cam = explain.gradcam(net, image, truth, "model.1.submodule.2")
    assert cam.shape == image.shape and cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
    other = np.zeros_like(truth)
    other[0:6, 0:6, 0:4] = 1
    assert not np.allclose(cam, explain.gradcam(net, image, other, "model.1.submodule.2"))
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters()))


def test_occlusion_is_limited_to_the_box_and_measures_score_drops(case):
    net, image, truth = case
    box = explain.structure_box(truth, margin=2)
    occ = explain.occlusion(net, image, truth, mask_size=4, overlap=0.0, box=box)
    inside = tuple(slice(lo, hi + 1) for lo, hi in zip(box[::2], box[1::2]))
    outside = np.ones(image.shape, bool)
    outside[inside] = False
    assert occ.shape == image.shape and np.all(occ[outside] == 0) and np.any(occ[inside] != 0)


def test_attribution_mass_metric_on_hand_made_maps():
    truth = np.zeros((10, 10, 10), dtype=np.uint8)
    truth[4:6, 4:6, 4:6] = 1
    inside = truth.astype(float)
    far = np.zeros_like(inside)
    far[0, 0, 0] = 3.0
    spacing = [1.0, 1.0, 1.0]
    mass = explain.attribution_mass_in_region
    assert mass(inside, truth, spacing, 1.0) == 1.0
    assert mass(inside + far, truth, spacing, 1.0) == pytest.approx(8 / 11)
    assert math.isnan(mass(-far, truth, spacing, 1.0))  # no positive attribution
    assert math.isnan(mass(inside, np.zeros_like(truth), spacing, 1.0))  # no structure
    # dilation in mm follows the spacing: 2 voxels away at 3 mm spacing is 6 mm
    near = np.zeros_like(inside)
    near[4, 4, 7] = 1.0
    assert explain.attribution_mass_in_region(near, truth, [1, 1, 3.0], 5.9) == 0.0
    assert explain.attribution_mass_in_region(near, truth, [1, 1, 3.0], 6.0) == 1.0


def test_informative_slices_pick_the_heaviest():
    attr = np.zeros((4, 4, 6))
    attr[..., 1] = 2.0
    attr[..., 4] = 1.0
    attr[..., 5] = -9.0
    assert explain.informative_slices(attr, 2) == [1, 4]


@pytest.mark.slow
def test_case_evidence_png_with_caption_and_metrics(case, tmp_path):
    net, image, truth = case
    pred = np.roll(truth, 1, axis=0)
    out = evidence.explain_case(net, image, truth, pred, [1.0, 1.0, 2.5], roi=[16, 16, 16],
                                target_layer="model.1.submodule.2", occlusion_mask=4, occlusion_overlap=0.0,
                                dilation_mm=5.0)
    assert out["explained_region"] == "prediction"
    assert 0.0 <= out["attribution_mass_in_region"] <= 1.0
    slices = explain.informative_slices(out["gradcam"], 2)
    text = evidence.caption("case-1", "worst", "teacher", {"dice": 0.5, "hd95_mm": 1.0}, ["SRS-VNV-005"])
    path = tmp_path / "explain_worst_case-1.png"
    evidence.render_png(path, image, truth, pred, out["gradcam"], out["occlusion"], slices, text)
    first = path.read_bytes()
    evidence.render_png(path, image, truth, pred, out["gradcam"], out["occlusion"], slices, text)
    assert path.read_bytes() == first
    with Image.open(path) as png:
        assert png.width > 300 and png.height > 200
    missed = evidence.explain_case(net, image, truth, np.zeros_like(truth), [1, 1, 2.5], [16, 16, 16],
                                   "model.1.submodule.2", 4, 0.0, 5.0)
    assert missed["explained_region"] == "ground truth" and missed["gradcam"].max() > 0


def test_informative_slices_always_show_the_structure():
    attr = np.zeros((4, 4, 6))
    attr[..., 1] = 2.0
    attr[..., 4] = 1.0
    structure = np.zeros((4, 4, 6), dtype=np.uint8)
    structure[1:3, 1:3, 5] = 1
    assert explain.informative_slices(attr, 2, structure=structure) == [1, 5]
    assert explain.informative_slices(attr, 1, structure=np.zeros_like(structure)) == [1]


def test_hirescam_localises_a_region_score_where_channel_averaged_gradcam_spreads(case):
    net, image, truth = case
    spacing = [1.0, 1.0, 1.0]
    hires = explain.gradcam(net, image, truth, "model.1.submodule.2", method="hirescam")
    averaged = explain.gradcam(net, image, truth, "model.1.submodule.2", method="gradcam")
    assert hires.shape == averaged.shape == image.shape
    assert not np.allclose(hires, averaged)
    mass = explain.attribution_mass_in_region
    assert mass(hires, truth, spacing, 2.0) > mass(averaged, truth, spacing, 2.0)
    with pytest.raises(ValueError, match="unknown Grad-CAM method"):
        explain.gradcam(net, image, truth, "model.1.submodule.2", method="cam")


def test_cam_maps_are_scaled_not_inverted():
    # MONAI's default normaliser maps (min, max) to (1, 0); the evidence must keep 0 = none
    cam = torch.tensor([[[0.0, 1.0, 4.0]], [[0.0, 0.0, 0.0]]])
    scaled = explain.scale_to_unit(cam)
    assert torch.equal(scaled[0], torch.tensor([[0.0, 0.25, 1.0]]))
    assert torch.equal(scaled[1], torch.zeros(1, 3))


def test_a_2d_image_is_explained_and_shown_whole_in_one_row(tmp_path):
    torch.manual_seed(0)
    net = UNet(2, 1, 2, channels=[4, 8, 16], strides=[2, 2], num_res_units=0).eval()
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1.0, (40, 36)).astype(np.float32)  # z-scored: not in 0..1
    truth = np.zeros(image.shape, dtype=np.uint8)
    truth[10:20, 14:22] = 1
    image[truth > 0] += 3.0
    out = evidence.explain_case(net, image, truth, np.roll(truth, 1, axis=1), [0.5, 0.5], roi=[32, 32],
                                target_layer="model.1.submodule.2", occlusion_mask=4, occlusion_overlap=0.0,
                                dilation_mm=3.0)
    assert out["gradcam"].shape == out["occlusion"].shape == image.shape
    assert 0.0 <= out["attribution_mass_in_region"] <= 1.0 and len(out["window"]) == 2
    text = evidence.caption("img-1", "best", "teacher", {"dice": 0.9, "hd95_mm": 1.0, "abs_volume_error_ml": math.nan},
                            ["SRS-VNV-005"])
    assert "abs_volume_error_ml" not in text  # not defined on 2D: not shown as nan
    path = tmp_path / "explain_best_img-1.png"
    evidence.render_png(path, image, truth, truth, out["gradcam"], out["occlusion"], [], text)
    with Image.open(path) as png:
        assert png.width > 300 and png.height < 300  # one row of five panels


def test_a_target_layer_the_teacher_lacks_is_named_with_its_decoder_blocks(tmp_path):
    from pipeline.core.errors import UserError
    from pipeline.verify.explain_stage import check_target_layer

    net = UNet(2, 1, 2, channels=[4, 8, 16, 32], strides=[2, 2, 2], num_res_units=0)
    check_target_layer(net, "model.1.submodule.2", tmp_path / "teacher.pt")
    with pytest.raises(UserError, match=r"'model\.9' is not a layer .*decoder blocks: "
                                        r"model\.1\.submodule\.1\.submodule\.2, model\.1\.submodule\.2"):
        check_target_layer(net, "model.9", tmp_path / "teacher.pt")
