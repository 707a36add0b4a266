"""Burned-in text found in the pixels when the header does not flag it (``pipeline.deid.pixeltext``).

The OCR tests are few and small (one OCR call costs about half a second); the screen and the
text filter are tested as pure functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import yaml
from PIL import Image, ImageDraw, ImageFont
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

from pipeline.deid import pixeltext
from pipeline.deid.params import BurnedInParams
from tests.deid.conftest import deid_params, deid_run

ROOT = Path(__file__).resolve().parents[2]
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
TEXT = "DOE^JANE 0451234"


def _text_mask(shape: tuple[int, int], text: str, where: tuple[int, int], size: int = 12) -> np.ndarray:
    image = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).text(where, text, fill=255, font=ImageFont.load_default(size=size))
    return np.asarray(image) > 127


def _ct_hu(rows: int = 160, columns: int = 160, seed: int = 0) -> np.ndarray:
    """Air with noise around an elliptic body (fat rim, soft tissue, a bright spine)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :columns]
    cy, cx = rows / 2, columns / 2
    r = ((x - cx) / (0.45 * columns)) ** 2 + ((y - cy) / (0.33 * rows)) ** 2
    hu = np.where(r <= 1.0, -100.0, -1000.0)
    hu[r <= 0.8] = 40.0
    hu[((x - cx) ** 2 + (y - cy - 0.2 * rows) ** 2) < (0.05 * rows) ** 2] = 700.0
    return hu + rng.normal(0.0, 12.0, hu.shape)


def _with_pixels(template: Path, pixels: np.ndarray, path: Path, modality: str | None = None) -> Path:
    """``template`` (a cohort CT file, clean header) with other pixels (uint16 HU+1024, or RGB uint8)."""
    ds = pydicom.dcmread(template)
    ds.Rows, ds.Columns = pixels.shape[:2]
    if pixels.ndim == 3:  # an ultrasound-like RGB frame
        ds.Modality, ds.SOPClassUID = modality or "US", US_IMAGE
        ds.file_meta.MediaStorageSOPClassUID = US_IMAGE
        for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth"):
            delattr(ds, keyword)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _ct_with_text(template: Path, path: Path) -> tuple[Path, np.ndarray]:
    hu = _ct_hu()
    mask = _text_mask(hu.shape, TEXT, (3, 3))
    hu[mask] = 3071.0  # the brightest value, in the air of the top left corner
    stored = np.clip(np.rint(hu) + 1024, 0, 4095).astype(np.uint16)
    return _with_pixels(template, stored, path), mask


def _ultrasound(seed: int = 1) -> np.ndarray:
    """A dark frame with a speckled sector (anatomy-like), RGB."""
    rng = np.random.default_rng(seed)
    rows, columns = 240, 320
    y, x = np.mgrid[:rows, :columns]
    angle, radius = np.arctan2(x - columns / 2, y + 20), np.hypot(x - columns / 2, y + 20)
    sector = (np.abs(angle) < 0.6) & (radius > 40) & (radius < 250)
    grey = np.where(sector, np.clip(rng.rayleigh(45.0, (rows, columns)), 0, 255), 0).astype(np.uint8)
    return np.repeat(grey[..., np.newaxis], 3, axis=2)


@pytest.fixture()
def template(raw_cohort) -> Path:
    return next(p for p in sorted(raw_cohort.rglob("*.dcm")) if p.parent.name == "CT")


@pytest.mark.verifies("SRS-DEID-007")
def test_ct_with_text_in_a_corner_and_a_clean_header_is_quarantined(template, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    path, _ = _ct_with_text(template, src / "ct.dcm")
    assert pydicom.dcmread(path).BurnedInAnnotation == "NO"
    report, paths = deid_run(src, tmp_path / "run")
    assert report["quarantined_by_reason"] == {"burned_in_pixel_text": 1} and report["written"] == 0
    assert report["pixel_text"] == {"files_screened": 1, "frames_screened": 1, "files_ocr": 1, "frames_ocr": 1,
                                    "files_with_text": 1}
    assert len(list((paths.quarantine / "burned_in_pixel_text").iterdir())) == 1


@pytest.mark.verifies("SRS-DEID-007")
def test_blank_mode_blanks_the_text_boxes_and_keeps_the_body(template, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    path, mask = _ct_with_text(template, src / "ct.dcm")
    before = pydicom.dcmread(path).pixel_array
    params = deid_params(burned_in={"mode": "blank", "regions": [  # regions: for files the header flags
        {"row_start": 0, "row_stop": 1, "column_start": 0, "column_stop": 1}]})
    report, paths = deid_run(src, tmp_path / "run", params)
    assert report["written"] == 1 and report["pixel_text"]["files_with_text"] == 1
    ds = pydicom.dcmread(next(paths.output.rglob("*.dcm")))
    after = ds.pixel_array
    assert int(after[mask].max()) == int(before.min())  # every text pixel blanked
    assert np.array_equal(after[60:, :], before[60:, :])  # the body below the text is untouched
    assert not pixeltext.text_regions(pixeltext.read_text(pixeltext.to_uint8(after), 0.5),
                                      params.burned_in, after.shape)
    assert ds.BurnedInAnnotation == "NO"
    assert "113101" in {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}


@pytest.mark.verifies("SRS-DEID-007")
def test_ultrasound_frame_with_drawn_text_and_no_header_flag_is_caught(template, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    frame = _ultrasound()
    frame[_text_mask(frame.shape[:2], "ID 4471823 SMITH", (6, 4), size=14)] = (255, 255, 0)
    _with_pixels(template, frame, src / "us.dcm")
    report, _ = deid_run(src, tmp_path / "run", deid_params(burned_in={"sop_classes": []}))
    assert report["quarantined_by_reason"] == {"burned_in_pixel_text": 1}
    assert report["pixel_text"]["files_screened"] == 0 and report["pixel_text"]["files_ocr"] == 1


@pytest.mark.verifies("SRS-DEID-007")
def test_ocr_modality_frame_without_text_is_not_flagged(template, tmp_path):
    ds = pydicom.dcmread(_with_pixels(template, _ultrasound(seed=2), tmp_path / "us.dcm"))
    found = pixeltext.scan(ds, BurnedInParams())
    assert found.ocr_frames == 1 and not found.found and not found.undecodable


@pytest.mark.verifies("SRS-DEID-007")
def test_clean_cohort_ct_is_screened_without_ocr_and_not_flagged(raw_cohort, deid_cohort):
    report, _ = deid_cohort
    cts = [p for p in raw_cohort.rglob("*.dcm") if p.parent.name == "CT"]
    assert report["pixel_text"] == {"files_screened": len(cts), "frames_screened": len(cts), "files_ocr": 0,
                                    "frames_ocr": 0, "files_with_text": 0}
    assert set(report["quarantined_by_reason"]) == {"burned_in_annotation"}


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-007")
def test_default_cohort_ct_passes_the_screen_on_its_cheap_path(tmp_path, monkeypatch):
    """Every CT frame of one patient per default site (params.yaml): no OCR, not even labelling."""
    from pipeline.cohort.generate import run as generate
    from pipeline.cohort.params import CohortParams

    data = yaml.safe_load((ROOT / "params.yaml").read_text())["cohort"]
    data.update(patients_per_site=1, workers=1, followup_every=0, dose_report_every=0)
    data["external"]["patients_per_site"] = 1
    generate(CohortParams.model_validate(data), tmp_path / "raw")

    def never(*args, **kwargs):
        raise AssertionError("the screen flagged a clean frame")

    monkeypatch.setattr(pixeltext, "read_text", never)
    monkeypatch.setattr(pixeltext.ndimage, "label", never)  # only frames with marks cut off are labelled
    policy = BurnedInParams()
    cts = [p for p in sorted((tmp_path / "raw").rglob("*.dcm")) if p.parent.name == "CT"]
    assert len({p.parts[-5] for p in cts}) == 4  # the three development sites and the external one
    for path in cts:
        assert pixeltext.scan(pydicom.dcmread(path), policy) == pixeltext.Scan(screened_frames=1)


@pytest.mark.verifies("SRS-DEID-007")
def test_screen_flags_marks_in_the_air_not_anatomy_at_the_border():
    hu = _ct_hu()
    assert not pixeltext.screen_frame(hu)
    wide = _ct_hu()
    y, x = np.mgrid[:160, :160]
    wide[((x - 80) / 85.0) ** 2 + ((y - 80) / 50.0) ** 2 <= 1.0] = 40.0  # the body runs off both sides
    assert not pixeltext.screen_frame(wide)
    for where in ((3, 3), (3, 140), (90, 146)):  # top left, bottom left, bottom right
        text = hu.copy()
        text[_text_mask(hu.shape, "ABC 123", where, size=10)] = 3071.0
        assert pixeltext.screen_frame(text), where
    padded = hu.copy()
    padded[np.hypot(x - 80, y - 80) > 85] = -3024.0  # outside the field of view
    assert not pixeltext.screen_frame(padded)
    padded[_text_mask(hu.shape, "ABC 123", (3, 3), size=10)] = 3071.0
    assert pixeltext.screen_frame(padded)


@pytest.mark.verifies("SRS-DEID-007")
def test_text_filter_drops_short_and_unsure_strings_and_widens_boxes():
    policy = BurnedInParams(ocr_min_score=0.7, ocr_min_characters=3, ocr_margin=4)
    box = [[10.0, 5.0], [60.0, 5.0], [60.0, 15.2], [10.0, 15.2]]
    results = [(box, "L", 0.99), (box, "R .", 0.99), (box, "DOE", 0.65), (box, "DOE", 0.9),
               ([[0.0, 0.0], [30.0, 0.0], [30.0, 8.0], [0.0, 8.0]], "12:45", 0.8)]
    assert pixeltext.text_regions(results, policy, (100, 62)) == [(1, 21, 6, 62), (0, 13, 0, 35)]
    assert pixeltext.sample(list(range(10)), 3) == [0, 4, 9] and pixeltext.sample([2, 5], 3) == [2, 5]


@pytest.mark.verifies("SRS-DEID-007", "SRS-DEID-008")
def test_pixels_that_cannot_be_decoded_are_quarantined(template, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ds = pydicom.dcmread(template)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([b"\xff\x4f" + bytes(64)])
    ds["PixelData"].VR = "OB"
    ds.save_as(src / "ct.dcm", enforce_file_format=True)
    report, _ = deid_run(src, tmp_path / "run")
    assert report["quarantined_by_reason"] == {"pixel_data_undecodable": 1}


@pytest.mark.slow
@pytest.mark.verifies("SRS-DEID-007")
def test_real_ultrasounds_with_burned_in_text_are_caught_without_the_sop_class_flag(tmp_path):
    """deid-data's two ultrasound images (text in the pixels), their header flags removed."""
    import deid_data

    src = tmp_path / "src"
    src.mkdir()
    for name in ("GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm"):
        ds = pydicom.dcmread(next(Path(deid_data.__file__).parent.rglob(name)))
        if "BurnedInAnnotation" in ds:
            del ds.BurnedInAnnotation
        ds.save_as(src / name)
    report, _ = deid_run(src, tmp_path / "run", deid_params(burned_in={"sop_classes": []}))
    assert report["quarantined_by_reason"] == {"burned_in_pixel_text": 2}
