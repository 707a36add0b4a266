"""Date offsets that would leave DICOM's date range are refused when params are validated (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from pipeline.core.errors import UserError
from pipeline.deid.dates import shift_da
from pipeline.deid.params import MAX_DATE_OFFSET, MIN_DATE_OFFSET, DeidParams
from pipeline.params import validate_params
from tests.deid.conftest import deid_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.verifies("SRS-DEID-004", "SRS-PLAT-001")
@pytest.mark.parametrize("offsets", [[-800000, -700000], [MIN_DATE_OFFSET - 1, -30], [30, MAX_DATE_OFFSET + 1]])
def test_offsets_that_leave_the_dicom_date_range_are_a_validation_error(offsets):
    with pytest.raises(ValidationError, match="outside DICOM's date range"):
        deid_params(date_offset_days=offsets)
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["deid"]["date_offset_days"] = offsets
    with pytest.raises(UserError, match=r"deid\.date_offset_days = .*outside DICOM's date range"):
        validate_params(data)


@pytest.mark.verifies("SRS-DEID-004")
def test_offsets_at_the_bounds_keep_dates_valid_dicom_dates():
    assert DeidParams.model_validate({"source": "data/raw", "date_offset_days": [MIN_DATE_OFFSET, -1]}).date_offset_days[0] == MIN_DATE_OFFSET
    assert DeidParams.model_validate({"source": "data/raw", "date_offset_days": [1, MAX_DATE_OFFSET]}).date_offset_days[1] == MAX_DATE_OFFSET
    assert shift_da("19000101", MIN_DATE_OFFSET) == "00010101"  # four-digit year, zero-padded
    assert shift_da("20991231", MAX_DATE_OFFSET) == "99991231"
    assert shift_da("18991231", MIN_DATE_OFFSET) is None and shift_da("21000101", MAX_DATE_OFFSET) is None
