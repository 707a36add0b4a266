"""Pixel data checks: burned-in text, missing or truncated pixel data, opt-in region blanking.

Burned-in text cannot be found reliably in the header, so a file is suspect when it says so
(BurnedInAnnotation = YES) or when its SOP class is on the configured list of kinds known to
carry burned-in text (secondary captures, ultrasound). Suspect files are quarantined, or, when
the user opts in, the configured regions are blanked on every frame and the file is marked
with Clean Pixel Data.
"""

from __future__ import annotations

import functools

import numpy as np
from pydicom.dataset import Dataset

from pipeline.deid.params import BlankRegion, BurnedInParams

PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def burned_in_reason(ds: Dataset, policy: BurnedInParams) -> str | None:
    """``"burned_in_annotation"`` or ``"burned_in_sop_class"`` when pixels may carry text.

    Args:
        ds: the input dataset.
        policy: the ``burned_in`` params.
    """
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return "burned_in_annotation"
    if str(ds.get("SOPClassUID", "")) in policy.sop_classes:
        return "burned_in_sop_class"
    return None


def pixel_problem(ds: Dataset) -> str | None:
    """``"missing_pixel_data"`` for an image SOP class without pixels, ``"truncated_pixel_data"``
    when native (uncompressed) pixel data is shorter than its description says: rows x columns
    x samples x frames x bits allocated, bits packed, where YBR_FULL_422 stores two samples per
    pixel (PS3.3 C.7.6.3.1.2: half the bytes of RGB), as pydicom's ``get_expected_length``.

    Args:
        ds: the input dataset (file meta included).
    """
    has_pixels = any(name in ds for name in PIXEL_TAGS)
    if not has_pixels:
        return "missing_pixel_data" if is_image_class(str(ds.get("SOPClassUID", ""))) else None
    syntax = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
    if "PixelData" not in ds or syntax is None:
        return None
    if syntax.is_compressed:
        return None
    try:
        rows, columns, bits = (int(ds[keyword].value) for keyword in ("Rows", "Columns", "BitsAllocated"))
        samples = int(ds.get("SamplesPerPixel") or 1)
        frames = int(ds.get("NumberOfFrames") or 1)
    except (AttributeError, KeyError, TypeError, ValueError):
        return "missing_pixel_description"
    if str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422" and samples == 3:
        samples = 2  # two Y, one Cb and one Cr per pair of pixels
    expected = (rows * columns * samples * frames * bits + 7) // 8
    return "truncated_pixel_data" if len(ds.PixelData) < expected else None


def blank_regions(ds: Dataset, regions: list[BlankRegion]) -> None:
    """Set every configured region to the image minimum on every frame (re-encoded native).

    Args:
        ds: the dataset whose pixels are blanked in place.
        regions: the rectangles from params.
    """
    array = ds.pixel_array.copy()
    frames = array if int(ds.get("NumberOfFrames") or 1) > 1 else array[np.newaxis]
    fill = frames.min()
    for region in regions:
        frames[:, region.row_start:region.row_stop, region.column_start:region.column_stop] = fill
    photometric = "RGB" if int(ds.get("SamplesPerPixel") or 1) == 3 else str(ds.PhotometricInterpretation)
    ds.set_pixel_data(array, photometric, int(ds.BitsStored))
    ds.BurnedInAnnotation = "NO"


@functools.lru_cache(maxsize=512)
def is_image_class(sop_class: str) -> bool:
    """Whether the IOD of ``sop_class`` contains the Image Pixel module (PS3.3 via highdicom)."""
    from highdicom._standard_utils import get_iod_module_map, get_sop_class_iod_map

    iod = get_sop_class_iod_map().get(sop_class)
    if iod is None:
        return False
    return any(module["key"] == "image-pixel" for module in get_iod_module_map().get(iod, []))
