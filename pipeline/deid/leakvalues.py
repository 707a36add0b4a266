"""Identifying values of the leak-check inputs (part of the independent leak check).

Imports nothing from the de-identifier. Which input values count as identifying (collected
at every depth of nested sequences):

* every person name: every PN value, and every private value that bears a name (VR PN, a
  private dictionary entry naming a person's name, or a ``^``-separated value of letter words),
  as a whole, each word of each component, and its words in any order (``leaknames``);
* every private element value with a text, date or UID VR, and the text inside private
  values of unknown VR (UN, as implicit VR files store them) when it is printable (private
  creators excepted);
* every UID (UI) that names an instance rather than a class (attributes whose keyword names
  a class, transfer syntax, coding scheme, context group or mapping resource are not
  identifying, and nor is any UID registered in the standard), unless UIDs are retained;
* every date (DA, and the date part of DT) unless full dates are retained;
* text (LO, SH, ST, LT, UT, UC) of every attribute the Annex E table lists whose action,
  under the selected options, removes or replaces the value (a ``K`` or ``C`` under a selected
  option means the value is meant to survive, whole or cleaned);
* every component of the input's path relative to the input folder that has a digit and is
  at least ``min_substring_length`` long (IDs, accessions, dates; searched as a substring
  only). Names in folder names are covered by the person-name values; folder names without
  digits ("CT", "SEG", "liver") name a kind of series, not a person.

Values shorter than ``min_value_length`` are ignored (single letters, sexes, "CT"). Times of
day (TM) are not collected: a whole-day shift keeps them, and a time alone does not identify
a person.

A private value that repeats a value of a standard attribute of the same input is judged like
that attribute (a private copy of a kept description is not identifying, a private copy of
the patient ID is); a private value that starts with eight digits is treated as a date.

Known values are not identifying: a value (other than a full person name) that occurs, whole
or as a part, in a value a selected option deliberately keeps (``K``: an institution name
kept by Retain Institution Identity, a station name kept by Retain Device Identity) or in a
value of an attribute the table does not list (technical vocabulary: "PERFUSION" in an
ImageType, a model name copied into a private tag, an organisation that is also the
manufacturer). Values kept cleaned (``C``) are neither: their identifying words are found
through the names and IDs they repeat. Known limitation: an identifier that a sender put
into an attribute the table does not list, and nowhere else, is invisible to this rule;
full person names stay identifying everywhere.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.uid import UID_dictionary

from pipeline.deid import leaknames  # the checker's own name rules: no de-identifier code

BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
DEFER_BYTES = 16384  # larger values (pixel data) are not even read unless needed
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
SEARCH_TEXT_VRS = TEXT_VRS | {"PN", "AE"}
WHOLE_VALUE_VRS = SEARCH_TEXT_VRS | {"UI", "DA", "DT"}
COLLECT_VRS = WHOLE_VALUE_VRS | {"CS"}
CLASS_UID_WORDS = ("Class", "TransferSyntax", "CodingScheme", "ContextUID", "ContextGroup",
                   "MappingResource", "ApplicationContext", "PrivateInformationCreator")
FAST_TEXT_VRS = COLLECT_VRS - {"SQ"}
SINGLE_VALUE_VRS = frozenset({"ST", "LT", "UT"})
FAST_ENCODINGS = frozenset({"latin_1", "iso8859", "iso_ir_6", "ascii", "utf_8", "UTF8", "utf8"})
FULL_NAME_KINDS = frozenset({leaknames.WHOLE, leaknames.ORDERED})  # identifying wherever they occur
_TABLE_TAG = re.compile(r"^\(([0-9A-F]{4}),([0-9A-F]{4})\)$")


@dataclass(frozen=True)
class LeakPolicy:
    """What the check treats as identifying; mirrors the options as plain table column names."""

    table: Path
    option_columns: tuple[str, ...] = ()
    min_value_length: int = 3
    min_substring_length: int = 5
    workers: int = 1


@dataclass
class Needles:
    values: dict[str, str] = field(default_factory=dict)  # normalised value -> kind
    paths: dict[str, str] = field(default_factory=dict)  # input path components (substrings only)
    dates: dict[str, str] = field(default_factory=dict)
    retained: set[str] = field(default_factory=set)
    vocabulary: set[str] = field(default_factory=set)  # values of non-identifying attributes

    def merge(self, other: "Needles") -> None:
        """Add ``other`` (the values of later inputs: the first kind seen for a value wins)."""
        for mine, theirs in ((self.values, other.values), (self.paths, other.paths), (self.dates, other.dates)):
            for value, kind in theirs.items():
                mine.setdefault(value, kind)
        self.retained |= other.retained
        self.vocabulary |= other.vocabulary


def collect_input(path: Path, input_root: Path, policy: LeakPolicy) -> tuple[Needles, set[str] | None]:
    """The identifying values of one input file and its own dates (None if it is not readable).

    Args:
        path: the input file.
        input_root: the input folder (path components are taken relative to it).
        policy: what counts as identifying.
    """
    needles = Needles()
    for part in Path(path).relative_to(input_root).with_suffix("").parts:
        if len(norm(part)) >= policy.min_substring_length and any(ch.isdigit() for ch in part):
            needles.paths.setdefault(norm(part), "input path component")
    ds = read_dataset(path)
    if ds is None:
        return needles, None
    dates: set[str] = set()
    privates: list[tuple[str, bool]] = []
    benign: set[str] = set()
    try:
        collect(ds, needles, dates, policy, privates, benign)
    except Exception:  # an element that cannot be decoded: what was collected still counts
        pass
    private_values(privates, benign, needles, dates, policy)
    return needles, dates


def private_values(privates: list[tuple[str, bool]], benign: set[str], needles: Needles, dates: set[str],
                    policy: LeakPolicy) -> None:
    """Judge the private values of one input (after its standard values are known).

    Args:
        privates: (value, whether its element bears a person name) pairs.
        benign: normalised values of the input's kept or unlisted standard attributes.
        needles: where identifying values are added.
        dates: the input's own dates.
        policy: what counts as identifying.
    """
    for value, named in privates:
        key = norm(value)
        if key in benign:
            continue  # a private copy of a description or a kept value is judged like the original
        if named or leaknames.shaped_like_name(value):
            _add_person(needles.values, value, policy)
        elif len(key) >= 8 and key[:8].isdigit():
            dates.add(key[:8])
            needles.dates[key[:8]] = "date"
        else:
            _add(needles.values, value, "private value", policy)


def collect(ds, needles: Needles, dates: set[str], policy: LeakPolicy, privates: list[tuple[str, bool]],
             benign: set[str]) -> None:
    """Collect the identifying values of one dataset, every depth (see the module rules)."""
    actions = _table_actions(policy.table, policy.option_columns)
    keep_uids = "rtnUIDsOpt" in policy.option_columns
    keep_dates = "rtnLongFullDatesOpt" in policy.option_columns
    for tag, vr, element in elements(ds, COLLECT_VRS):
        if tag.element == 0 or tag.group == 2 or element is None:
            continue
        if vr == "SQ":
            for item in element.value or []:
                collect(item, needles, dates, policy, privates, benign)
            continue
        values = strings(element)
        if tag.group & 1:
            if 0x10 <= tag.element <= 0xFF:
                continue
            if vr in TEXT_VRS | {"PN", "DA", "DT", "UI"}:
                found = values
            elif vr == "UN" and isinstance(element.value, bytes):
                found = _printable(element.value)
            else:
                continue
            named = vr == "PN" or bool(found) and leaknames.described_as_name(_creator(ds, tag), tag)
            privates.extend((value, named) for value in found)
            continue
        if vr in BINARY_VRS:
            continue
        action = actions.get(int(tag))
        if action in ("K", "C") or action is None and vr != "PN":
            benign.update(norm(value) for value in values)
        if vr == "PN":
            for value in values:
                _add_person(needles.values, value, policy)
        elif vr == "UI" and not keep_uids:
            if not any(word in (keyword_for_tag(tag) or "") for word in CLASS_UID_WORDS):
                for value in values:
                    if value not in UID_dictionary:
                        _add(needles.values, value, "instance UID", policy)
        elif vr in ("DA", "DT") and not keep_dates:
            for value in values:
                date = value.strip()[:8]
                if len(date) == 8 and date.isdigit():
                    dates.add(date)
                    needles.dates[date] = "date"
        elif action is None:
            needles.vocabulary.update(norm(value) for value in values)
        elif vr in TEXT_VRS and action == "K":
            needles.retained.update(norm(value) for value in values)
        elif vr in TEXT_VRS and action == "R":
            for value in values:
                _add(needles.values, value, f"identifying text {tag}", policy)


def drop_known_values(needles: Needles) -> None:
    """Remove values an option keeps or technical vocabulary contains (full names stay).

    One pass of an Aho-Corasick automaton over the known text: linear in its length.
    """
    known = "\x00".join(sorted(needles.retained | needles.vocabulary))
    for store in (needles.values, needles.paths):
        candidates = [v for v, kind in store.items() if kind not in FULL_NAME_KINDS]
        for value in occurring(candidates, known):
            del store[value]


def occurring(values: list[str], text: str) -> set[str]:
    """The ``values`` that occur in ``text`` (one automaton pass, not one scan per value)."""
    if not values or not text:
        return set()
    automaton = ahocorasick.Automaton()
    for value in values:
        automaton.add_word(value, value)
    automaton.make_automaton()
    return {value for _, value in automaton.iter(text)}


def _add_person(target: dict[str, str], value: str, policy: LeakPolicy) -> None:
    for key, kind in leaknames.person_needles(value, policy.min_value_length,
                                              policy.min_substring_length).items():
        target.setdefault(key, kind)


def _creator(ds, tag) -> str | None:
    creator = ds.get((tag.group << 16) | (tag.element >> 8))
    return str(creator.value) if creator is not None and creator.value else None


def _add(target: dict[str, str], value: str, kind: str, policy: LeakPolicy) -> None:
    key = norm(value)
    if len(key) >= policy.min_value_length:
        target.setdefault(key, kind)


def norm(value: str) -> str:
    """Compare values case- and spacing-insensitively, name components separated by spaces."""
    return " ".join(str(value).replace("^", " ").split()).upper()


def _printable(raw: bytes) -> list[str]:
    """Text inside an undecoded private value (implicit VR files store private text as UN)."""
    if len(raw) > 1024:
        return []
    text = raw.decode("latin-1").strip(" \x00")
    if not text or not all(ch.isprintable() for ch in text):
        return []
    return [part for part in text.split("\\") if part.strip()]


def strings(element) -> list[str]:
    """The non-empty string values of an element (none for binary values)."""
    value = element.value
    if value is None or isinstance(value, (bytes, bytearray)):
        return []
    items = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    return [str(item) for item in items if item is not None and str(item).strip()]


def elements(ds, wanted: frozenset[str]):
    """(tag, VR, element) for every element; only sequences, private elements and the
    ``wanted`` VRs are decoded (element None otherwise), and binary values (pixels) are never
    loaded unless private and small (they may hold text)."""
    encoding = _encoding(ds)
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        vr = raw.VR
        if vr is None or vr == "UN":
            try:
                vr = dictionary_VR(tag).split(" or ")[0] if not tag.group & 1 else "UN"
            except KeyError:
                vr = "UN"
        private = bool(tag.group & 1)
        if vr in BINARY_VRS and not (private and raw.value is not None and len(raw.value or b"") <= 1024):
            yield tag, vr, None
            continue
        if not private and vr != "SQ" and vr not in wanted:
            yield tag, vr, None
            continue
        fast = None if private else _fast_text(raw, vr, encoding)
        if fast is not None:
            yield tag, vr, fast
            continue
        element = ds[tag]
        yield tag, element.VR, element


class _Text:
    """A text value decoded straight from its bytes (what the check reads of an element)."""

    __slots__ = ("VR", "value")

    def __init__(self, vr: str, value: list[str]) -> None:
        self.VR, self.value = vr, value


def _encoding(ds) -> str | None:
    """The dataset's single, byte-per-character or UTF-8 text encoding; None otherwise."""
    try:
        encodings = ds._character_set
    except Exception:
        return None
    if len(encodings) == 1 and encodings[0] in FAST_ENCODINGS:
        return encodings[0]
    return None


def _fast_text(raw, vr: str, encoding: str | None) -> _Text | None:
    """Text values decoded directly (about 5x cheaper than pydicom's element conversion);
    None where pydicom must decode (sequences, code extensions, already decoded elements)."""
    value = getattr(raw, "value", None)
    if encoding is None or vr not in FAST_TEXT_VRS or not isinstance(value, bytes) or not getattr(raw, "is_raw", False):
        return None
    text = value.decode(encoding, errors="replace")
    parts = [text] if vr in SINGLE_VALUE_VRS else text.split("\\")
    return _Text(vr, [part.strip(" \x00") for part in parts])


def read_dataset(path: Path):
    """Read any file as DICOM, large values deferred; None when it cannot be read."""
    try:
        return pydicom.dcmread(path, force=True, defer_size=DEFER_BYTES)
    except Exception:
        return None


@functools.lru_cache(maxsize=8)
def _table_actions(table: Path, columns: tuple[str, ...]) -> dict[int, str]:
    """Tag -> K, C or R (removed/replaced) from the Annex E table, under the option columns."""
    actions = {}
    for row in json.loads(Path(table).read_text()):
        match = _TABLE_TAG.match(row["tag"])
        if not match:
            continue
        chosen = {row[c] for c in columns if c in row}
        actions[int(match[1] + match[2], 16)] = "K" if "K" in chosen else "C" if "C" in chosen else "R"
    return actions
