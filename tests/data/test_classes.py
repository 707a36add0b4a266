"""The label map a data source declares (``preprocess.source.classes``): validation and mapping."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from pipeline.core.errors import UserError
from pipeline.data import msd
from pipeline.data.case import Case
from pipeline.data.classes import map_values, segment_numbers
from pipeline.data.params import MsdSource, SourceParams
from pipeline.preprocess.fingerprint import check_classes, class_voxels, fingerprint
from tests.data.msd_task import make_msd_task

pytestmark = pytest.mark.verifies("SRS-DATA-010")
SOURCE = TypeAdapter(SourceParams)
TWO = [{"name": "liver", "values": [1]}, {"name": "tumour", "values": [2]}]


def _source(classes, fmt="msd"):
    return SOURCE.validate_python({"format": fmt, "path": "x", "classes": classes})


def test_classes_are_ordered_named_and_the_binary_default_needs_only_a_name():
    assert _source([{"name": "lesion"}], "dicom").class_names == ["lesion"]
    assert _source(TWO).class_names == ["liver", "tumour"]


@pytest.mark.parametrize(("classes", "message"), [
    ([{"name": "a", "values": [1]}, {"name": "b", "values": [1]}], "value 1 is given to both 'a' and 'b'"),
    ([{"name": "a", "values": [1]}, {"name": "a", "values": [2]}], "class name 'a' is given twice"),
    ([{"name": "a", "values": [1, 1]}], "a label value is given twice"),
    ([{"name": "a"}, {"name": "b", "values": [2]}], "class 'a' lists no values"),
    ([{"name": "background", "values": [1]}], "reserved for class 0"),
    ([{"name": "a", "values": [0]}], "lists label 0, the MSD background"),
    ([{"name": "dice[x]", "values": [1]}], "pattern"),
    ([], "at least 1 item"),
])
def test_a_bad_class_map_is_refused(classes, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[")):
        _source(classes)


def test_the_old_keys_are_refused_naming_the_new_one():
    with pytest.raises(ValidationError, match="foreground_labels was replaced by classes"):
        SOURCE.validate_python({"format": "msd", "path": "x", "foreground_labels": [1]})


def test_values_become_class_indices_and_unlisted_values_are_background_and_reported():
    values = np.array([0, 1, 2, 3, 2, 7])
    mask, unmapped = map_values(values, _source(TWO).classes)
    assert mask.tolist() == [0, 1, 2, 0, 2, 0] and mask.dtype == np.uint8
    assert unmapped == ("3", "7")
    single, none = map_values(values, _source([{"name": "any"}]).classes)  # one class, no values: all > 0
    assert single.tolist() == [0, 1, 1, 1, 1, 1] and none == ()
    black, _ = map_values(np.array([0, 255]), _source([{"name": "membrane", "values": [0]}], "image_folder").classes)
    assert black.tolist() == [1, 0]  # mask value 0 may be a class (ISBI membranes)


def test_seg_segments_map_to_classes_by_label():
    found = {"Liver": 1, "Tumour": 2, "Vessel": 3}
    classes = _source([{"name": "liver", "values": ["Liver"]}, {"name": "tumour", "values": ["Tumour"]}], "dicom")
    numbers, lut, unlisted = segment_numbers(found, classes.classes)
    assert numbers == [1, 2] and lut.tolist() == [0, 1, 2, 0] and unlisted == ("Vessel",)
    numbers, lut, unlisted = segment_numbers(found, _source([{"name": "lesion"}], "dicom").classes)
    assert numbers is None and lut.tolist() == [0, 1, 1, 1] and unlisted == ()  # every segment: the binary default
    with pytest.raises(ValueError, match="SEG has no segment"):
        segment_numbers({"Liver": 1}, classes.classes)


def test_msd_reader_writes_label_maps_and_the_fingerprint_counts_each_class(tmp_path):
    root = make_msd_task(tmp_path, count=2, shape=(16, 16, 14), lesion=True)
    source = MsdSource.model_validate({"format": "msd", "path": str(root), "classes": TWO})
    cases = msd.read(source).cases
    assert [sorted(np.unique(c.label).tolist()) for c in cases] == [[0, 1, 2], [0, 1, 2]]
    prints = fingerprint(cases, source.class_names)
    assert list(prints["classes"]) == ["liver", "tumour"] and prints["classes"]["tumour"]["cases"] == 2
    assert prints["classes"]["liver"]["voxels"] == sum(int((c.label == 1).sum()) for c in cases)
    assert prints["all"]["label_ml_min"] > 0  # the label volume is of every class
    binary = msd.read(MsdSource.model_validate({"format": "msd", "path": str(root), "classes": [{"name": "x"}]}))
    assert all(set(np.unique(c.label)) == {0, 1} for c in binary.cases)  # one class: every label > 0


def test_a_class_that_occurs_in_no_case_is_an_error_naming_it():
    label = np.array([[0, 1], [1, 3]], dtype=np.uint8)
    case = Case(case_id="a", patient_id="a", image=np.zeros((2, 2), np.float32), label=label,
                affine=np.eye(3), unmapped=("9",))
    assert class_voxels(label, ["a", "b", "c"]) == {"a": 2, "b": 0, "c": 1}
    check_classes([case], ["a", "b", "c"][:1], "data/x")
    with pytest.raises(UserError, match=r"class\(es\) \['b'\] .* occur in no case of data/x.*values in no class: \['9'\]"):
        check_classes([case], ["a", "b", "c"], "data/x")
