"""Apply the resolved action table to one dataset, at every depth of nested sequences.

Per element: the table row (or the repeating-group / private row) decides; an attribute the
table does not list is kept only if allow-listed, else removed. Allow-listed free text
(segment labels, ROI names, model names) loses the file's own identifying words, as a
second line of defence. Untouched elements stay raw
(never decoded), which keeps the hot path cheap. Text that action C keeps is cleaned after
the walk, once every identifying value of the file is known.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID_dictionary

from pipeline.deid import dates, names, textclean
from pipeline.deid.allowlist import AllowList
from pipeline.deid.profile import Profile
from pipeline.deid.pseudonyms import Pseudonymizer

TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "AE", "CS", "PN"})
FREE_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
DATE_VRS = frozenset({"DA", "DT"})
NUMERIC_DUMMY = {"DS": "0", "IS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0,
                 "FL": 0.0, "FD": 0.0}
TEXT_DUMMY = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D",
              "PN": "ANONYMOUS"}
DEFAULT_DUMMY = "ANONYMOUS"
CLASS_WORDS = ("TransferSyntax", "CodingScheme", "ContextUID", "ContextGroup", "MappingResource",
               "ApplicationContext")


@dataclass
class FileContext:
    """Everything the walk needs for one file, and what it learns on the way."""

    profile: Profile
    allow: AllowList
    pseudo: Pseudonymizer
    pseudonym: str
    offset_days: int
    identifying: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # person names: PN values, name-bearing private values
    to_clean: list[tuple[Dataset, BaseTag, bool]] = field(default_factory=list)
    removed_unknown: int = 0
    removed_private: int = 0


def deidentify(ds: Dataset, ctx: FileContext) -> None:
    """De-identify ``ds`` in place (file meta is handled by the caller).

    Args:
        ds: the dataset read from the input file.
        ctx: the file context (profile, allow-list, pseudonyms, patient offset).
    """
    _walk(ds, ctx)
    if ctx.to_clean:
        words = textclean.identifier_words(ctx.identifying + ctx.names)
        people = frozenset(names.words_of(name) for name in ctx.names)
        quick = _ascii_words(words | {word for person in people for word in person})
        for dataset, tag, generic in ctx.to_clean:
            if generic or not _surely_clean(dataset, tag, quick):
                _clean(dataset, tag, words, generic, people)
    if ctx.profile.private_action == "C":
        prune_private_creators(ds)
    ds.PatientName = ctx.pseudonym
    ds.PatientID = ctx.pseudonym


def _walk(ds: Dataset, ctx: FileContext) -> None:
    profile, dates_mode = ctx.profile, ctx.profile.options.retain_longitudinal_temporal
    for tag in list(ds.keys()):
        if tag.element == 0:  # group length: recomputed or dropped on write
            del ds[tag]
            continue
        if tag.group & 1:
            _private(ds, tag, ctx)
            continue
        action = profile.action(int(tag))
        vr = _vr(ds, tag)
        if action is None:
            if not ctx.allow.allows(int(tag)):
                del ds[tag]
                ctx.removed_unknown += 1
                continue
            if vr == "SQ":
                action = "K"
            elif vr in DATE_VRS:
                action = {"full": "K", "modified": "C"}.get(dates_mode, "X")
            elif vr == "PN":
                action = "Z"
            elif vr == "UI" and not names_a_class(int(tag)):
                action = "U"  # an instance UID outside the table (e.g. concatenation source)
            elif vr in FREE_TEXT_VRS:
                ctx.to_clean.append((ds, tag, False))  # defence in depth: the file's own names go
                continue
            else:
                continue  # allow-listed and not a date: kept raw
        if vr == "PN":
            ctx.names.extend(_strings(ds[tag].value))
        elif action in ("Z", "X", "D") and vr in TEXT_VRS | DATE_VRS:
            ctx.identifying.extend(_strings(ds[tag].value))
        elif action in ("Z", "X", "D") and vr == "SQ":  # removed whole: its names still count
            ctx.names.extend(names.removed_sequence_names(ds, tag))
        _apply(ds, tag, vr, action, ctx)


def _apply(ds: Dataset, tag: BaseTag, vr: str, action: str, ctx: FileContext) -> None:
    if action == "X":
        del ds[tag]
    elif action == "Z" or (action == "D" and vr in ("SQ", "OB", "OW", "UN", "AT", "OF", "OD", "OL", "OV")):
        ds[tag] = DataElement(tag, vr, Sequence() if vr == "SQ" else None)
    elif action == "D":
        ds[tag] = DataElement(tag, vr, _dummy(ds, tag, vr, ctx))
    elif vr == "SQ":  # K, C, U and U* keep a sequence and process every item
        for item in ds[tag].value:
            _walk(item, ctx)
    elif action == "K":
        return
    elif action in ("U", "U*"):
        if vr == "UI":
            ds[tag] = DataElement(tag, vr, _remap_uids(ds[tag].value, ctx.pseudo))
        else:
            del ds[tag]
    elif action == "C":
        _clean_action(ds, tag, vr, ctx)
    else:
        raise ValueError(f"unknown action {action!r} for {tag}")


def _clean_action(ds: Dataset, tag: BaseTag, vr: str, ctx: FileContext) -> None:
    if vr in DATE_VRS:
        raw = ds[tag].value
        text = "\\".join(str(v) for v in raw) if isinstance(raw, (list, tuple)) else str(raw or "")
        shifted = dates.shift_value(text, vr, ctx.offset_days)
        ds[tag] = DataElement(tag, vr, shifted if shifted is not None else None)
    elif vr == "PN":
        ctx.identifying.extend(_strings(ds[tag].value))
        ds[tag] = DataElement(tag, vr, None)
    elif vr in TEXT_VRS:
        ctx.to_clean.append((ds, tag, True))
    # other VRs (TM, numbers, codes): a whole-day shift or cleaning leaves them unchanged


def _ascii_words(words: frozenset[str]) -> list[bytes] | None:
    named = [word for word in words if not word.isdigit()]
    return [word.encode() for word in named] if all(word.isascii() for word in named) else None


def _surely_clean(ds: Dataset, tag: BaseTag, quick: list[bytes] | None) -> bool:
    """True when the still undecoded value cannot contain any identifying word (fast path)."""
    raw = ds.get_item(tag)
    if quick is None or isinstance(raw, DataElement) or not isinstance(raw.value, bytes):
        return False
    upper = raw.value.upper()
    return not any(word in upper for word in quick)


def _clean(ds: Dataset, tag: BaseTag, words: frozenset[str], generic: bool,
           people: frozenset[tuple[str, ...]]) -> None:
    element = ds[tag]
    values = list(element.value) if isinstance(element.value, (list, tuple)) else [element.value]
    cleaned = [textclean.clean_text(str(v), words, generic, people) for v in values if v is not None]
    if not generic and cleaned == [str(v) for v in values if v is not None]:
        return  # nothing identifying: the allow-listed value stays exactly as it was
    cleaned = [value for value in cleaned if value]
    element.value = cleaned if len(cleaned) > 1 else (cleaned[0] if cleaned else None)


def _private(ds: Dataset, tag: BaseTag, ctx: FileContext) -> None:
    element_offset = tag.element
    if element_offset >= 0x1000:  # a name copied into a private block is still the patient's name
        ctx.names.extend(names.private_names(ds, tag))
    if ctx.profile.private_action == "C" and 0x1000 <= element_offset:
        creator_tag = BaseTag((tag.group << 16) | (element_offset >> 8))
        creator = ds.get(creator_tag)
        if creator is not None and ctx.allow.allows_private(str(creator.value), tag.group, element_offset & 0xFF):
            return
    if 0x0010 <= element_offset <= 0x00FF and ctx.profile.private_action == "C":
        return  # creators are pruned after the walk when none of their elements survived
    del ds[tag]
    ctx.removed_private += 1


def prune_private_creators(ds: Dataset) -> None:
    """Remove private creator elements whose block has no element left (every depth).

    Args:
        ds: a de-identified dataset.
    """
    blocks = {(t.group, t.element >> 8) for t in ds.keys() if t.group & 1 and t.element >= 0x1000}
    for tag in list(ds.keys()):
        if tag.group & 1 and 0x0010 <= tag.element <= 0x00FF and (tag.group, tag.element) not in blocks:
            del ds[tag]
        elif _vr(ds, tag) == "SQ":
            for item in ds[tag].value:
                prune_private_creators(item)


@functools.lru_cache(maxsize=2048)
def names_a_class(tag: int) -> bool:
    """Whether a UI attribute names a class or scheme (kept) rather than an instance (replaced).

    Args:
        tag: the attribute tag as an int.
    """
    keyword = keyword_for_tag(tag) or ""
    return keyword.endswith("ClassUID") or any(word in keyword for word in CLASS_WORDS)


def _remap_uids(value, pseudo: Pseudonymizer):
    values = value if isinstance(value, (list, tuple)) else [value]
    mapped = [v if (not v or v in UID_dictionary) else pseudo.uid(str(v)) for v in values]
    return mapped if isinstance(value, (list, tuple)) else mapped[0]


def _dummy(ds: Dataset, tag: BaseTag, vr: str, ctx: FileContext):
    if vr == "UI":
        return _remap_uids(ds[tag].value, ctx.pseudo)
    if vr in NUMERIC_DUMMY:
        return NUMERIC_DUMMY[vr]
    return TEXT_DUMMY.get(vr, DEFAULT_DUMMY)


def _vr(ds: Dataset, tag: BaseTag) -> str:
    raw = ds.get_item(tag)
    vr = getattr(raw, "VR", None)
    if not vr or vr == "UN":
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return "UN"
    return str(vr).split(" or ")[0]


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    if isinstance(value, (bytes, Sequence)):
        return []
    text = str(value)
    return [text] if text else []
