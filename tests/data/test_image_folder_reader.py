"""The 2D image-folder reader: matching by name, foreground values, bad pairs, the ISBI set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data import image_folder
from pipeline.data.params import ImageFolderSource
from tests.data.tiny import make_image_folder

pytestmark = pytest.mark.verifies("SRS-DATA-006")
ISBI = Path(__file__).resolve().parents[3] / "shared" / "data" / "isbi2012-membranes"


def _source(root, **kw):
    kw.setdefault("classes", [{"name": "disc", "values": [255]}])
    return ImageFolderSource(format="image_folder", path=str(root), **kw)


def test_pairs_matched_in_section_order_with_binary_masks(tmp_path):
    root = make_image_folder(tmp_path, count=12)
    result = image_folder.read(_source(root))
    assert result.bad == []
    assert [c.case_id for c in result.cases] == [str(i) for i in range(12)]
    case = result.cases[3]
    stored = np.asarray(Image.open(root / "label" / "3.png"))
    assert case.image.shape == (32, 32) and case.image.dtype == np.float32
    assert np.array_equal(case.label, (stored == 255).astype(np.uint8))


def test_tiff_masks_with_suffix_and_chosen_foreground(tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "label").mkdir()
    Image.fromarray(np.full((8, 9), 7, np.uint8)).save(tmp_path / "image" / "a.png")
    mask = np.zeros((8, 9), np.uint8)
    mask[2, 3] = 3
    Image.fromarray(mask).save(tmp_path / "label" / "a_mask.tif")
    case = image_folder.read(_source(tmp_path, label_suffix="_mask", classes=[{"name": "spot", "values": [3]}])).cases[0]
    assert case.label.sum() == 1 and case.label[2, 3] == 1


@pytest.mark.verifies("SRS-DATA-007")
def test_bad_pairs_named_with_reason(tmp_path):
    root = make_image_folder(tmp_path, count=3)
    (root / "label" / "0.png").unlink()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "label" / "1.png")
    (root / "image" / "2.png").write_bytes(b"garbage")
    reasons = {b.name: b.reason for b in image_folder.read(_source(root)).bad}
    assert "missing label" in reasons["0.png"]
    assert "shape" in reasons["1.png"]
    assert "UnidentifiedImageError" in reasons["2.png"]


@pytest.mark.skipif(not ISBI.is_dir(), reason="../shared/data/isbi2012-membranes is not present")
def test_isbi_membranes_read_as_thirty_sections():
    result = image_folder.read(_source(ISBI, classes=[{"name": "membrane", "values": [0]}]))
    assert len(result.cases) == 30 and result.bad == []
    share = np.mean([c.label.mean() for c in result.cases])
    assert 0.15 < share < 0.3  # membranes are about 22 % of the pixels
