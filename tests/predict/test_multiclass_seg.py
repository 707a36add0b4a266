"""A multi-class prediction as a DICOM SEG: one BINARY segment per foreground class."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest

from pipeline.predict import writer
from pipeline.predict.reader import read_dicom_series
from tests.predict.inputs import ct_series

pytestmark = pytest.mark.verifies("SRS-DATA-010")


def test_each_class_is_a_segment_of_its_own(tmp_path):
    image = read_dicom_series(ct_series(tmp_path / "ct", np.zeros((4, 8, 8), np.int16)))
    mask = np.zeros(image.array.shape[-3:], np.uint8)
    mask[2:6, 2:6, 1:3] = 1
    mask[3:5, 3:5, 1:3] = 2
    kind = writer.write(tmp_path / "seg.dcm", image, mask, {"model_version": "t"}, ["background", "liver", "tumour"])
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    assert kind == "seg" and seg.SegmentationType == "BINARY"
    assert [str(s.SegmentLabel) for s in seg.SegmentSequence] == ["liver", "tumour"]
    volume = seg.get_volume(combine_segments=True).array
    assert sorted(np.unique(volume).tolist()) == [0, 1, 2] and int((volume == 2).sum()) == int((mask == 2).sum())
