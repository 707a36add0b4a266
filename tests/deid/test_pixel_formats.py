"""Valid pixel encodings are not quarantined; big-endian files are rewritten losslessly."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian

from pipeline.deid import endian, parallel, pixels
from tests.deid.conftest import KEY, PIXELS_UNREAD, deid_params, deid_run

BIG_ENDIAN = ["ExplVR_BigEndNoMeta.dcm", "ExplVR_BigEnd.dcm", "MR_small_bigendian.dcm", "OBXXXX1A_expb.dcm",
              "SC_rgb_expb_16bit_2frame.dcm", "SC_rgb_expb_32bit.dcm", "SC_rgb_small_odd_big_endian.dcm",
              "liver_expb.dcm", "rtdose_expb.dcm"]


def _encode(name: str):
    parallel._init(deid_params(burned_in=PIXELS_UNREAD), KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parallel.encode(Path(get_testdata_file(name)))


@pytest.mark.verifies("SRS-DEID-014", "SRS-DEID-008")
def test_ybr_full_422_is_not_truncated_but_a_short_one_is():
    ds = pydicom.dcmread(get_testdata_file("SC_ybr_full_422_uncompressed.dcm"))
    assert ds.PhotometricInterpretation == "YBR_FULL_422" and len(ds.PixelData) == ds.Rows * ds.Columns * 2
    assert pixels.pixel_problem(ds) is None
    assert _encode("SC_ybr_full_422_uncompressed.dcm").reason is None
    ds.PixelData = ds.PixelData[:-2]
    assert pixels.pixel_problem(ds) == "truncated_pixel_data"


@pytest.mark.verifies("SRS-DEID-014")
@pytest.mark.parametrize("name", BIG_ENDIAN)
def test_big_endian_is_written_as_explicit_little_endian_with_equal_values(name):
    source = pydicom.dcmread(get_testdata_file(name), force=True)
    outcome = _encode(name)
    assert outcome.reason is None, outcome.detail
    written = pydicom.dcmread(io.BytesIO(outcome.payload))
    assert written.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert written.original_encoding == (False, True)
    if "PixelData" in source:
        assert np.array_equal(source.pixel_array, written.pixel_array)
        for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel"):
            assert written[keyword].value == source[keyword].value
    if "RedPaletteColorLookupTableData" in source:  # OW values other than pixels are swapped too
        before = np.frombuffer(source.RedPaletteColorLookupTableData, ">u2")
        assert np.array_equal(before, np.frombuffer(written.RedPaletteColorLookupTableData, "<u2"))


@pytest.mark.verifies("SRS-DEID-014")
def test_big_endian_values_of_unknown_representation_are_refused():
    ds = pydicom.dcmread(get_testdata_file("MR_small_bigendian.dcm"))
    ds.add_new(0x00191001, "UN", b"\x01\x02")
    with pytest.raises(endian.ConversionError, match="unknown representation"):
        endian.to_little_endian(ds)


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-014", "SRS-DEID-009")
def test_converted_files_pass_the_stage_and_its_leak_check(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    names = [n for n in BIG_ENDIAN if n != "SC_rgb_expb_32bit.dcm"]  # same SOP instance as the 16-bit one
    for name in names + ["SC_ybr_full_422_uncompressed.dcm"]:
        (src / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    report, _ = deid_run(src, tmp_path / "run", deid_params(burned_in=PIXELS_UNREAD))
    assert report["written"] == len(names) + 1 and report["leak_check"]["leaks"] == 0


@pytest.mark.verifies("SRS-DEID-014", "SRS-DEID-008")
def test_a_pixel_description_that_is_not_a_number_is_reported_not_raised():
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds["Rows"].VR, ds["Rows"].value = "LO", "many"
    assert pixels.pixel_problem(ds) == "missing_pixel_description"
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    assert pixels.pixel_problem(ds) is None
