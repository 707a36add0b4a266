"""Burned-in text found in the pixels of images whose header does not admit it.

A header that says nothing (no BurnedInAnnotation, a SOP class off the suspect list) does not
mean the pixels are free of text: ultrasound and fluoroscopy frames, radiographs and CT images
exported from a workstation carry names, IDs and dates drawn into them. This module reads the
pixels, at a bounded cost:

- Modalities where burned-in text is common (``burned_in.ocr_modalities``: US, XA, RF, DX, CR,
  MG, OT, SC, ES, XC) are read by OCR on a bounded sample of frames (``ocr_frames``: first,
  last, middle, ...).
- Every other image (CT, MR, PT, NM, ...) first passes a cheap screen (``screen_frame``) on
  every frame; only frames the screen flags are read by OCR (at most ``ocr_frames`` of them).
- Modalities whose pixels are not pictures (``unscreened_modalities``: SEG label maps, RTDOSE
  grids) are not read.

The OCR is RapidOCR (PaddleOCR's PP-OCRv4 detection and recognition models run by ONNX
Runtime); its model files ship inside the ``rapidocr-onnxruntime`` wheel and are read from
site-packages, nothing is downloaded. One engine is created lazily per process (the stage's
worker processes each create their own on first use), with one ONNX Runtime thread so that
results do not depend on the number of workers or cores.

A string counts as text when its confidence is at least ``ocr_min_score`` and it holds at least
``ocr_min_characters`` letters or digits (orientation markers such as "L" or "R" do not count).
What the text says is never kept or reported: only where it is (``Scan.regions``: its boxes,
widened by ``ocr_margin`` pixels) and how much was read.

Limits (disclosed, not hidden): text on frames the sample leaves out is not read; on screened
modalities text drawn over the body, or touching it, is not flagged by the screen; OCR does
not read every font, size or orientation.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from scipy import ndimage

from pipeline.deid.params import BurnedInParams

# The screen (see ``screen_frame``).
BORDER = 0.15          # the border bands: this share of the rows (top, bottom) and columns (left, right)
CONTRAST = 0.3         # a mark lies above background + 30 % of the frame's background-to-bright span
MARK_HEIGHT = 0.1      # a character is at most this share of the rows high (at least MIN_MARK_PIXELS)
MARK_WIDTH = 0.25      # ... and at most this share of the columns wide
MIN_MARK_PIXELS = 12
MIN_MARK_AREA = 4      # fewer pixels: noise, not a character
MIN_MARKS = 3          # fewer marks: not a word of ocr_min_characters' default length
SAMPLE_STEP = 4        # the percentiles are taken on every 4th pixel of every 4th row
PADDING_SHARE = (0.01, 0.5)  # a minimum value held by a share of the pixels in this range is
                             # padding (outside a CT's field of view), not background
# Larger frames are shrunk to this longest side before OCR (boxes are mapped back): a 2000-pixel
# radiograph costs 0.7 s instead of 4 s, and its text (tens of pixels high) stays readable.
OCR_MAX_SIDE = 1024

_ENGINE: tuple[int, object] | None = None  # (process id, RapidOCR): one engine per process


@dataclass(frozen=True)
class Scan:
    """What the pixels of one file showed; no text, only counts and places."""

    screened_frames: int = 0  # frames the cheap screen looked at
    ocr_frames: int = 0  # frames read by OCR
    regions: tuple[tuple[int, int, int, int], ...] = ()  # text boxes (row_start, row_stop, column_start, column_stop)
    undecodable: bool = False  # the pixels could not be decoded, so not checked

    @property
    def found(self) -> bool:
        """Whether text was found."""
        return bool(self.regions)


def scan(ds: Dataset, policy: BurnedInParams) -> Scan:
    """Look for burned-in text in the pixels of ``ds`` as the policy says (see the module).

    Args:
        ds: the input dataset (its header does not flag burned-in text).
        policy: the ``burned_in`` params.
    """
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if "PixelData" not in ds or modality in policy.unscreened_modalities:
        return Scan()
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        frames = 0
    try:
        if frames < 1:
            raise Undecodable("NumberOfFrames")
        if modality in policy.ocr_modalities:
            return _read(ds, sample(list(range(frames)), policy.ocr_frames), policy, screened=0)
        flagged = [index for index in range(frames) if screen_frame(_frame(ds, index))]
        return _read(ds, sample(flagged, policy.ocr_frames), policy, screened=frames)
    except Undecodable:  # no decoder, corrupt data, no frame count: text cannot be ruled out
        return Scan(undecodable=True)


class Undecodable(Exception):
    """The pixel data of a frame cannot be decoded (no decoder, corrupt or incomplete data)."""


def sample(indices: list[int], count: int) -> list[int]:
    """At most ``count`` of ``indices``, spread over them: first, last, then evenly between."""
    if len(indices) <= count:
        return indices
    if count == 1:
        return [indices[0]]
    picks = {round(i * (len(indices) - 1) / (count - 1)) for i in range(count)}
    return [indices[i] for i in sorted(picks)]


def screen_frame(frame: np.ndarray) -> bool:
    """Whether a frame of a screened modality may carry text in the air around the subject.

    Burned-in text on CT, MR, PT or NM images is written in the corners and along the edges,
    outside the subject, in a value far above the background (usually the brightest value the
    display shows). Anatomy reaches the border bands too, but as one large region that runs on
    into the middle of the image (the body, the arms, the table); noise in air stays far below the
    threshold. The screen therefore counts *marks*: connected bright pixels (above background
    + ``CONTRAST`` of the span from background to the 99.9th percentile) that lie wholly inside
    the border bands, without touching the bands' inner edge, and are the size of a character
    (at most ``MARK_HEIGHT`` of the rows high, ``MARK_WIDTH`` of the columns wide, at least
    ``MIN_MARK_AREA`` pixels). ``MIN_MARKS`` marks or more flag the frame for OCR.

    The background is the first percentile of the frame, not counting a minimum value that
    1-50 % of the pixels hold (``PADDING_SHARE``: the padding outside a CT's circular field of
    view), so that air inside the field of view is background. Values are relative to the
    frame's own range: no modality's units are assumed (a rescale only moves and stretches
    them), and MONOCHROME1 frames are inverted first. The percentiles use a fixed subsample,
    and a frame whose bright band pixels all run straight on into the middle along their
    column or row (the usual frame: anatomy only) is let through before any labelling: about
    0.15 ms for a frame of the default cohort, 1 ms for a clean 512 x 512 frame.

    On the default cohort's CT (body, organs and spine inside an ellipse that may reach the side
    bands, air with Gaussian noise of 8-20 HU around it) nothing but the body reaches above the
    threshold, and the body touches the bands' inner edge: no frame is flagged (tested).

    Args:
        frame: one frame (rows, columns) or (rows, columns, samples), MONOCHROME1 already inverted.
    """
    values = frame.max(axis=2) if frame.ndim == 3 else frame
    rows, columns = values.shape
    if min(rows, columns) < MIN_MARK_PIXELS:
        return False
    low, high = _levels(values, 99.9)
    if high <= low:
        return False
    bright = _above(values, low + CONTRAST * (high - low))
    band_rows, band_columns = max(1, round(rows * BORDER)), max(1, round(columns * BORDER))
    if not _detached(bright, band_rows, band_columns):
        return False  # every bright band pixel runs straight on into the middle: the usual case
    marks = bright.copy()
    marks[band_rows:rows - band_rows, band_columns:columns - band_columns] = False  # the bands only
    labels, _ = ndimage.label(marks)
    touching = _touching(labels, bright, band_rows, band_columns)
    max_height = max(MIN_MARK_PIXELS, round(rows * MARK_HEIGHT))
    max_width = max(MIN_MARK_PIXELS, round(columns * MARK_WIDTH))
    found = 0
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
        if (number not in touching and height <= max_height and width <= max_width
                and np.count_nonzero(labels[box] == number) >= MIN_MARK_AREA):
            found += 1
    return found >= MIN_MARKS


def _above(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values > threshold`` without converting integer pixels to float."""
    if np.issubdtype(values.dtype, np.integer):
        return values > values.dtype.type(np.floor(threshold))  # within the dtype: low <= threshold <= high
    return values > threshold


def _detached(bright: np.ndarray, band_rows: int, band_columns: int) -> bool:
    """Whether a bright band pixel is cut off from the middle along its column (top and bottom
    bands) or row (side bands): the cheap test that lets most anatomy-only frames through
    without labelling. Each band is ordered away from the middle, after the middle's own row."""
    rows, columns = bright.shape
    down = slice(band_rows, rows - band_rows)
    bands = (bright[band_rows::-1], bright[rows - band_rows - 1:],
             bright[down, band_columns::-1].T, bright[down, columns - band_columns - 1:].T)
    for band in bands:
        attached = np.logical_and.accumulate(band, axis=0)
        if np.any(band[1:] & ~attached[1:]):
            return True
    return False


def _touching(labels: np.ndarray, bright: np.ndarray, band_rows: int, band_columns: int) -> set[int]:
    """Labels of marks on the bands' inner edge whose neighbour in the middle is bright too:
    structures that run on into the image (the body, the table), not marks written in the air."""
    rows, columns = labels.shape
    across, down = slice(band_columns, columns - band_columns), slice(band_rows, rows - band_rows)
    pairs = ((labels[band_rows - 1, across], bright[band_rows, across]),
             (labels[rows - band_rows, across], bright[rows - band_rows - 1, across]),
             (labels[down, band_columns - 1], bright[down, band_columns]),
             (labels[down, columns - band_columns], bright[down, columns - band_columns - 1]))
    return {int(label) for edge, inside in pairs for label in edge[inside]}


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """A frame as an 8-bit image for OCR: background black, the 99.5th percentile and above white.

    Args:
        frame: (rows, columns) or (rows, columns, 3) RGB, MONOCHROME1 already inverted.
    """
    if frame.ndim == 3 and frame.dtype == np.uint8:
        return np.ascontiguousarray(frame[..., ::-1])  # RGB to the BGR order OCR reads
    low, high = _levels(frame, 99.5)
    if high <= low:  # a uniform frame
        high = low + 1.0
    scaled = (np.clip(frame.astype(np.float32), low, high) - low) * (255.0 / (high - low))
    image = np.rint(scaled).astype(np.uint8)
    return np.ascontiguousarray(image[..., ::-1]) if image.ndim == 3 else image


def text_regions(results, policy: BurnedInParams, shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The boxes of the strings that count as text, widened by ``ocr_margin`` and clipped.

    Args:
        results: OCR results, ``[(points, text, score), ...]`` with points as (column, row).
        policy: the ``burned_in`` params (score, length, margin).
        shape: (rows, columns) of the frame.
    """
    regions = []
    for points, text, score in results or []:
        letters = sum(1 for char in str(text) if char.isalnum())
        if float(score) < policy.ocr_min_score or letters < policy.ocr_min_characters:
            continue
        corners = np.asarray(points, dtype=np.float64)
        margin = policy.ocr_margin
        row_start = max(0, int(np.floor(corners[:, 1].min())) - margin)
        row_stop = min(shape[0], int(np.ceil(corners[:, 1].max())) + 1 + margin)
        column_start = max(0, int(np.floor(corners[:, 0].min())) - margin)
        column_stop = min(shape[1], int(np.ceil(corners[:, 0].max())) + 1 + margin)
        if row_stop > row_start and column_stop > column_start:
            regions.append((row_start, row_stop, column_start, column_stop))
    return regions


def read_text(image: np.ndarray, min_score: float):
    """OCR one 8-bit image: ``[(points, text, score), ...]`` (empty when nothing is read).

    Args:
        image: (rows, columns) grey or (rows, columns, 3) BGR, uint8.
        min_score: strings below this confidence are dropped by the recogniser.
    """
    results, _ = ocr_engine()(image, use_cls=False, text_score=min_score, box_thresh=0.5, unclip_ratio=1.6)
    return results or []


def ocr_engine():
    """This process's OCR engine, created on first use (a worker never inherits its parent's)."""
    global _ENGINE
    if _ENGINE is None or _ENGINE[0] != os.getpid():
        from rapidocr_onnxruntime import RapidOCR  # models from the wheel; imports cv2 and ONNX Runtime

        _ENGINE = (os.getpid(), RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, max_side_len=OCR_MAX_SIDE))
    return _ENGINE[1]


def _read(ds: Dataset, indices: list[int], policy: BurnedInParams, screened: int) -> Scan:
    regions: set[tuple[int, int, int, int]] = set()
    for index in indices:
        frame = _frame(ds, index)
        found = read_text(to_uint8(frame), policy.ocr_min_score)
        regions.update(text_regions(found, policy, frame.shape[:2]))
    return Scan(screened_frames=screened, ocr_frames=len(indices), regions=tuple(sorted(regions)))


def _frame(ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` as shown: palette colour applied, MONOCHROME1 inverted (bright = high)."""
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    try:
        frame = pixel_array(_with_syntax(ds), index=index)
        if photometric == "PALETTE COLOR":
            return apply_color_lut(frame, ds)
    except Exception as exc:  # pydicom raises many kinds for data it cannot decode
        raise Undecodable(type(exc).__name__) from exc
    return -frame.astype(np.float32) if photometric == "MONOCHROME1" else frame


def _with_syntax(ds: Dataset) -> Dataset:
    """``ds``, or for a file without a transfer syntax (not Part 10) a shallow copy that names the
    encoding it was read with, so its native pixels can be decoded (``ds`` itself is not changed)."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return ds
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return ds
    syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    view = copy.copy(ds)
    view.file_meta = FileMetaDataset()
    view.file_meta.TransferSyntaxUID = syntax
    return view


def _levels(values: np.ndarray, high_percentile: float) -> tuple[float, float]:
    """(background, bright) of a frame: its 1st percentile (padding left out) and ``high_percentile``,
    nearest rank on a fixed subsample."""
    step = SAMPLE_STEP if min(values.shape[:2]) >= 8 * SAMPLE_STEP else 1
    sample = values[::step, ::step].ravel()
    floor = sample.min()
    share = np.count_nonzero(sample == floor) / sample.size
    background = sample[sample != floor] if PADDING_SHARE[0] < share < PADDING_SHARE[1] else sample
    low, high = float(_rank(background, 1.0)), float(_rank(sample, high_percentile))
    if high <= low:  # a uniform background with a few bright pixels (text) above it
        high = float(values.max())
    return low, high


def _rank(values: np.ndarray, percentile: float):
    k = min(values.size - 1, int(percentile / 100.0 * values.size))
    return np.partition(values, k)[k]
