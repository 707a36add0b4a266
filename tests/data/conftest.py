"""The tiny DICOM cohort, generated once for the reader tests."""

from __future__ import annotations

import pytest

from tests.data.tiny import make_cohort


@pytest.fixture(scope="session")
def tiny_dicom(tmp_path_factory):
    return make_cohort(tmp_path_factory.mktemp("dicom") / "raw")
