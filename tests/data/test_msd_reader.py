"""The Medical Segmentation Decathlon reader: pairs from dataset.json, RAS reorientation, bad pairs."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from pipeline.data import msd
from pipeline.data.params import MsdSource

pytestmark = pytest.mark.verifies("SRS-DATA-006")


def _write(path, array, affine):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))


@pytest.fixture()
def task(tmp_path):
    lps = np.diag([-1.5, -1.5, 3.0, 1.0])  # axes run towards L and P: must be flipped to R, A
    image = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    label = np.zeros((4, 5, 6), dtype=np.uint8)
    label[0, 0, 0], label[1, 1, 1] = 1, 2
    _write(tmp_path / "imagesTr/a_001.nii.gz", np.stack([image, -image], axis=-1), lps)
    _write(tmp_path / "labelsTr/a_001.nii.gz", label, lps)
    _write(tmp_path / "imagesTr/a_002.nii.gz", image, lps)
    _write(tmp_path / "labelsTr/a_002.nii.gz", label, np.diag([1.5, 1.5, 3.0, 1.0]))  # wrong geometry
    _write(tmp_path / "imagesTr/a_003.nii.gz", image, lps)  # no label file
    _write(tmp_path / "imagesTr/a_004.nii.gz", image, lps)
    _write(tmp_path / "labelsTr/a_004.nii.gz", label[:3], lps)  # wrong shape
    pairs = [{"image": f"./imagesTr/a_00{i}.nii.gz", "label": f"./labelsTr/a_00{i}.nii.gz"} for i in range(1, 5)]
    (tmp_path / "dataset.json").write_text(json.dumps({"name": "tiny", "training": pairs}))
    return tmp_path, image, label


def test_reads_pairs_into_ras_with_channel_and_foreground_selection(task):
    root, image, label = task
    result = msd.read(MsdSource(format="msd", path=str(root), channel=1,
                                  classes=[{"name": "lesion", "values": [2]}]))
    case = result.cases[0]
    assert [c.case_id for c in result.cases] == ["a_001"]
    assert np.allclose(np.diag(case.affine)[:3], [1.5, 1.5, 3.0])
    assert np.array_equal(case.image, -image[::-1, ::-1, :])
    assert case.label.sum() == 1 and case.label[4 - 2, 5 - 2, 1] == 1
    assert np.allclose(case.affine @ [0, 0, 0, 1], np.diag([-1.5, -1.5, 3.0, 1.0]) @ [3, 4, 0, 1])


@pytest.mark.verifies("SRS-DATA-007")
def test_bad_pairs_named_with_reason(task):
    root, _, _ = task
    reasons = {b.name: b.reason for b in msd.read(MsdSource(format="msd", path=str(root), classes=[{"name": "lesion"}])).bad}
    assert "geometry" in reasons["a_002"]
    assert "missing label" in reasons["a_003"]
    assert "shape" in reasons["a_004"]


@pytest.mark.verifies("SRS-DATA-007")
def test_missing_dataset_json_reported(tmp_path):
    bad = msd.read(MsdSource(format="msd", path=str(tmp_path), classes=[{"name": "lesion"}])).bad
    assert len(bad) == 1 and "dataset.json" in bad[0].reason
