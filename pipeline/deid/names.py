"""Person names the cleaner removes from text: gathered from every place a name can sit.

Gathered per file, at every depth (sequences that are removed included): every PN value,
whatever its action, and every private element that bears a name: VR PN, an entry of pydicom's
private dictionary that describes a person's name ("Patient Name", "Performing Physician's
Name", "Patient First Name"), or a text value shaped like a DICOM name (``^``-separated letter
words, as ``OKAFOR^HUGO^J`` copied into a private block). A name is split into the words of its
components (family, given, middle, prefix, suffix, each also split at spaces and punctuation);
titles and honorifics are not names. ``textclean`` removes the words, in any order and case,
and runs of two or more words of one name however short each word is ("Hugo J. Okafor").

The independent leak check has its own rules for the same thing (``leaknames``) on purpose.
"""

from __future__ import annotations

import re

from pydicom.datadict import private_dictionary_description
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

TITLES = frozenset({
    "DR", "DRS", "MR", "MRS", "MS", "MISS", "MX", "PROF", "SIR", "DAME", "REV", "FR", "SR", "JR",
    "II", "III", "IV", "MD", "PHD", "DO", "RN", "DDS", "DMD", "MBBS", "FRCR", "ESQ",
})
TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC"})
MAX_RAW_BYTES = 1024
_WORD = re.compile(r"[^\W_]+")
_LETTER_WORDS = re.compile(r"[^\W\d_]+(?:[ '.,-]+[^\W\d_]+)*\.?")
_PERSON = ("patient", "physician", "operator", "person", "doctor", "maiden", "first", "last",
           "referring", "requesting", "performing", "prename")


def words_of(name: str) -> tuple[str, ...]:
    """The upper-case words of one person name, titles left out, in order, no repeats.

    Args:
        name: a PN value (``FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX``, groups split by ``=``) or text.
    """
    words: list[str] = []
    for word in _WORD.findall(name.upper()):
        if word not in TITLES and word not in words:
            words.append(word)
    return tuple(words)


def private_names(ds: Dataset, tag) -> list[str]:
    """The values of private element ``tag`` of ``ds`` if it bears a person name, else none.

    Args:
        ds: the dataset holding the element (its private creator is looked up there).
        tag: a private data element tag (not a private creator).
    """
    raw = ds.get_item(tag)
    vr = getattr(raw, "VR", None)
    value = raw.value
    try:
        if isinstance(raw, DataElement) and vr in TEXT_VRS:
            texts = _texts(value)
        elif vr in TEXT_VRS:
            texts = _texts(ds[tag].value)
        elif vr in (None, "UN") and isinstance(value, bytes) and len(value) <= MAX_RAW_BYTES:
            texts = _printable(value)
        else:
            return []
    except Exception:  # an undecodable private value is removed all the same; the check reads it too
        return []
    if not texts:
        return []
    if vr == "PN" or _described_as_name(ds, tag):
        return texts
    return [text for text in texts if shaped_like_name(text)]


def removed_sequence_names(ds: Dataset, tag) -> list[str]:
    """The names inside sequence ``tag`` of ``ds``, which is about to be removed whole.

    A sequence still undecoded whose bytes hold neither a PN value representation (explicit
    VR) nor a ``^`` cannot hold a name and is not decoded (removed sequences are common, and
    decoding them would cost every file).

    Args:
        ds: the dataset holding the sequence.
        tag: the sequence's tag.
    """
    raw = ds.get_item(tag)
    value = getattr(raw, "value", None)
    if getattr(raw, "is_raw", False) and isinstance(value, bytes) and not raw.is_implicit_VR \
            and b"PN" not in value and b"^" not in value:
        return []
    try:
        return [name for item in ds[tag].value or [] for name in names_in(item)]
    except Exception:  # an undecodable sequence is removed all the same; the check reads it too
        return []


def names_in(ds: Dataset) -> list[str]:
    """Every PN value and name-bearing private value of ``ds``, every depth (no other decoding).

    Args:
        ds: a dataset or sequence item that is about to be removed whole.
    """
    found: list[str] = []
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        vr = getattr(raw, "VR", None)
        if tag.group & 1 and tag.element >= 0x1000:
            found += private_names(ds, tag)
        elif vr == "PN":
            found += _texts(ds[tag].value)
        elif vr == "SQ":
            for item in ds[tag].value or []:
                found += names_in(item)
    return found


def shaped_like_name(text: str) -> bool:
    """Whether a text is written as a DICOM person name: ``^``-separated words of letters."""
    if "^" not in text:
        return False
    parts = [part.strip() for part in re.split(r"[\^=]", text)]
    return any(len(part) >= 2 for part in parts) and all(not p or _LETTER_WORDS.fullmatch(p) for p in parts)


def _described_as_name(ds: Dataset, tag) -> bool:
    creator = ds.get((tag.group << 16) | (tag.element >> 8))
    if creator is None or not creator.value:
        return False
    try:
        description = private_dictionary_description(tag, str(creator.value)).lower()
    except (KeyError, ValueError):
        return False
    return re.search(r"name(?!s\b)|prename", description) is not None and any(w in description for w in _PERSON)


def _texts(value) -> list[str]:
    if value is None or isinstance(value, (bytes, bytearray)):
        return []
    items = value if isinstance(value, (list, tuple, MultiValue)) else [value]
    return [str(item) for item in items if item is not None and str(item).strip()]


def _printable(raw: bytes) -> list[str]:
    text = raw.decode("latin-1").strip(" \x00")
    if not text or not all(ch.isprintable() for ch in text):
        return []
    return [part for part in text.split("\\") if part.strip()]
