"""Big-endian inputs rewritten as explicit VR little endian, losslessly (checked on the pixels).

Explicit VR Big Endian was retired from the standard (PS3.5 A.3) and pydicom refuses to write a
dataset read in one byte order in the other: every element is decoded under the input's byte
order, the values pydicom keeps as raw bytes (OW, OF, OL, OD, OV, and native pixel data) are
byte-swapped per item, and the dataset is then re-declared little endian. Native pixel data is
swapped per sample as pydicom reads it (by BitsAllocated; 8-bit data stored as OW pairwise);
the decoded pixel arrays before and after must be equal, or the file is refused.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

SWAP_BYTES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


class ConversionError(ValueError):
    """A big-endian value that cannot be converted losslessly."""


def is_big_endian(ds: Dataset) -> bool:
    """Whether ``ds`` was read as big endian (with or without file meta).

    Args:
        ds: a dataset as read from a file.
    """
    syntax = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
    if syntax is not None and syntax.is_transfer_syntax and not syntax.is_little_endian:
        return True
    return ds.original_encoding[1] is False


def to_little_endian(ds: Dataset) -> None:
    """Convert ``ds`` in place to explicit VR little endian; raise ``ConversionError`` if lossy.

    Args:
        ds: a dataset read as big endian, native (uncompressed) pixel data if any.
    """
    before = _pixels(ds)
    _swap_all(ds, top=True)
    if "PixelData" in ds:
        ds["PixelData"].value = _swap(ds["PixelData"].value, _pixel_item_size(ds))
    ds.set_original_encoding(False, True, ds.original_character_set)
    if getattr(ds, "file_meta", None) is not None:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    after = _pixels(ds)
    if before is not None and (after is None or not np.array_equal(before, after)):
        raise ConversionError("pixel data differs after conversion to little endian")


def _swap_all(ds: Dataset, top: bool) -> None:
    for tag in list(ds.keys()):
        element: DataElement = ds[tag]  # decodes under the input's byte order
        if element.VR == "SQ":
            for item in element.value or []:
                _swap_all(item, top=False)
        elif top and element.keyword == "PixelData":
            continue  # swapped by sample size, after every other element is decoded
        elif element.VR in SWAP_BYTES and isinstance(element.value, (bytes, bytearray)):
            element.value = _swap(element.value, SWAP_BYTES[element.VR])
        elif element.VR == "UN" and element.value:
            raise ConversionError(f"value of unknown representation at {tag}")


def _pixel_item_size(ds: Dataset) -> int:
    bits = int(ds.get("BitsAllocated") or 8)
    if bits > 8:
        return bits // 8
    return 2 if ds["PixelData"].VR == "OW" else 1


def _swap(value: bytes, size: int) -> bytes:
    if size <= 1 or not value:
        return value
    whole = len(value) - len(value) % size
    swapped = np.frombuffer(value, dtype=f">u{size}", count=whole // size).astype(f"<u{size}").tobytes()
    return swapped + bytes(value[whole:])


def _pixels(ds: Dataset) -> np.ndarray | None:
    if "PixelData" not in ds:
        return None
    try:
        return ds.pixel_array.copy()
    except Exception as exc:
        raise ConversionError(f"pixel data cannot be decoded ({type(exc).__name__})") from None
