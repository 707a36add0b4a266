"""Independent leak check: search de-identified outputs for identifying values of the inputs.

Separate code from the de-identifier on purpose: this module imports nothing from it (only
pydicom and the standard library) and reads the inputs itself, so a bug in the de-identifier
is not repeated here.

Which input values count as identifying (collected at every depth of nested sequences):

* every person name (PN) as a whole and each of its name components;
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

Values shorter than ``min_value_length`` are ignored (single letters, sexes, "CT"). Times of day (TM) are not collected:
a whole-day shift keeps them, and a time alone does not identify a person.

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

Where it searches: every output value that can hold identity (text, names, AE titles, UIDs,
dates, and any private value) at every depth, file meta included, as a whole value; every
such text value and every output path for identifying values of at least
``min_substring_length`` characters as substrings. Code strings (CS) and numbers hold defined
terms and measurements and are not searched. Dates
are compared per file pair (an output must not hold a date of the input it came from, since
another patient's shifted date can coincide with a real date by chance) and as substrings of
text everywhere. Any private element left in an output is a leak unless safe private
attributes are retained.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.uid import UID_dictionary

BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
DEFER_BYTES = 16384  # larger values (pixel data) are not even read unless needed
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
SEARCH_TEXT_VRS = TEXT_VRS | {"PN", "AE"}
WHOLE_VALUE_VRS = SEARCH_TEXT_VRS | {"UI", "DA", "DT"}
COLLECT_VRS = WHOLE_VALUE_VRS | {"CS"}
SOFT_KINDS = ("private value", "person name component")
CLASS_UID_WORDS = ("Class", "TransferSyntax", "CodingScheme", "ContextUID", "ContextGroup",
                   "MappingResource", "ApplicationContext", "PrivateInformationCreator")
_TABLE_TAG = re.compile(r"^\(([0-9A-F]{4}),([0-9A-F]{4})\)$")


@dataclass(frozen=True)
class LeakPolicy:
    """What the check treats as identifying; mirrors the options as plain table column names."""

    table: Path
    option_columns: tuple[str, ...] = ()
    min_value_length: int = 3
    min_substring_length: int = 5


@dataclass(frozen=True)
class Leak:
    """One identifying value found in an output (the value itself is never reported)."""

    output: str
    where: str
    kind: str


@dataclass
class LeakResult:
    """The outcome of one check."""

    inputs_read: int = 0
    outputs_checked: int = 0
    identifying_values: int = 0
    leaks: list[Leak] = field(default_factory=list)

    def summary(self) -> dict:
        """Counts only (no values), for the stage report."""
        return {"inputs_read": self.inputs_read, "outputs_checked": self.outputs_checked,
                "identifying_values": self.identifying_values, "leaks": len(self.leaks)}


@dataclass
class _Needles:
    values: dict[str, str] = field(default_factory=dict)  # normalised value -> kind
    paths: dict[str, str] = field(default_factory=dict)  # input path components (substrings only)
    dates: dict[str, str] = field(default_factory=dict)
    retained: set[str] = field(default_factory=set)
    vocabulary: set[str] = field(default_factory=set)  # values of non-identifying attributes


def check(input_root: Path, inputs: list[Path], output_root: Path,
          pairs: dict[Path, Path], policy: LeakPolicy) -> LeakResult:
    """Search every file under ``output_root`` for identifying values of ``inputs``.

    Args:
        input_root: the input folder (paths are taken relative to it).
        inputs: every input file (quarantined ones too: their values must not leak either).
        output_root: the de-identified folder.
        pairs: output file -> the input file it was made from (for the per-file date check).
        policy: what counts as identifying.
    """
    result = LeakResult()
    needles = _Needles()
    per_input_dates: dict[Path, set[str]] = {}
    for path in inputs:
        for part in Path(path).relative_to(input_root).with_suffix("").parts:
            if len(_norm(part)) >= policy.min_substring_length and any(ch.isdigit() for ch in part):
                needles.paths.setdefault(_norm(part), "input path component")
        ds = _read(path)
        if ds is None:
            continue
        result.inputs_read += 1
        dates: set[str] = set()
        privates: list[str] = []
        benign: set[str] = set()
        try:
            _collect(ds, needles, dates, policy, privates, benign)
        except Exception:  # an element that cannot be decoded: what was collected still counts
            pass
        _private_values(privates, benign, needles, dates, policy)
        per_input_dates[Path(path)] = dates
    _drop_known_values(needles)
    result.identifying_values = len(needles.values) + len(needles.dates) + len(needles.paths)
    texts: dict[str, str] = {}
    for path in sorted(p for p in Path(output_root).rglob("*") if p.is_file()):
        relative = path.relative_to(output_root).as_posix()
        result.outputs_checked += 1
        texts.setdefault(relative.upper(), f"{relative}: path")
        ds = _read(path)
        if ds is None:
            result.leaks.append(Leak(relative, "file", "unreadable output"))
            continue
        own_dates = per_input_dates.get(pairs.get(path), set()) if path in pairs else set(needles.dates)
        _search(ds, relative, needles, own_dates, texts, result, policy, "")
        _search(ds.file_meta, relative, needles, own_dates, texts, result, policy, "meta ")
    _substrings(texts, needles, result, policy)
    return result


def _private_values(privates: list[str], benign: set[str], needles: _Needles, dates: set[str],
                    policy: LeakPolicy) -> None:
    for value in privates:
        norm = _norm(value)
        if norm in benign:
            continue  # a private copy of a description or a kept value is judged like the original
        if len(norm) >= 8 and norm[:8].isdigit():
            dates.add(norm[:8])
            needles.dates[norm[:8]] = "date"
        else:
            _add(needles.values, value, "private value", policy)


def _collect(ds, needles: _Needles, dates: set[str], policy: LeakPolicy, privates: list[str],
             benign: set[str]) -> None:
    actions = _table_actions(policy.table, policy.option_columns)
    keep_uids = "rtnUIDsOpt" in policy.option_columns
    keep_dates = "rtnLongFullDatesOpt" in policy.option_columns
    for tag, vr, element in _elements(ds, COLLECT_VRS):
        if tag.element == 0 or tag.group == 2 or element is None:
            continue
        if vr == "SQ":
            for item in element.value or []:
                _collect(item, needles, dates, policy, privates, benign)
            continue
        values = _strings(element)
        if tag.group & 1:
            if 0x10 <= tag.element <= 0xFF:
                continue
            if vr in TEXT_VRS | {"PN", "DA", "DT", "UI"}:
                privates.extend(values)
            elif vr == "UN" and isinstance(element.value, bytes):
                privates.extend(_printable(element.value))
            continue
        if vr in BINARY_VRS:
            continue
        action = actions.get(int(tag))
        if action in ("K", "C") or action is None and vr != "PN":
            benign.update(_norm(value) for value in values)
        if vr == "PN":
            for value in values:
                _add(needles.values, value, "person name", policy)
                for component in re.split(r"[\^=]", value):
                    _add(needles.values, component, "person name component", policy)
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
            needles.vocabulary.update(_norm(value) for value in values)
        elif vr in TEXT_VRS and action == "K":
            needles.retained.update(_norm(value) for value in values)
        elif vr in TEXT_VRS and action == "R":
            for value in values:
                _add(needles.values, value, f"identifying text {tag}", policy)


def _search(ds, relative: str, needles: _Needles, own_dates: set[str], texts: dict[str, str],
            result: LeakResult, policy: LeakPolicy, prefix: str) -> None:
    keep_private = "rtnSafePrivOpt" in policy.option_columns
    for tag, vr, element in _elements(ds, WHOLE_VALUE_VRS):
        where = f"{prefix}{tag}"
        if tag.group & 1 and not keep_private and tag.element >= 0x10:
            result.leaks.append(Leak(relative, where, "private attribute present"))
        if vr == "SQ":
            for item in element.value or []:
                _search(item, relative, needles, own_dates, texts, result, policy, f"{where} > ")
            continue
        private = bool(tag.group & 1)
        if element is None or vr not in WHOLE_VALUE_VRS and not private:
            continue
        for value in _strings(element):
            norm = _norm(value)
            if norm in needles.values:
                result.leaks.append(Leak(relative, where, needles.values[norm]))
            if vr in ("DA", "DT") and norm[:8] in own_dates:
                result.leaks.append(Leak(relative, where, "date of the same input"))
            if (vr in SEARCH_TEXT_VRS or private) and len(norm) >= policy.min_substring_length:
                texts.setdefault(norm, f"{relative}: {where}")


def _substrings(texts: dict[str, str], needles: _Needles, result: LeakResult, policy: LeakPolicy) -> None:
    searched = [(v, k) for v, k in needles.values.items() if len(v) >= policy.min_substring_length]
    searched += [(v, "date in text") for v in needles.dates]
    whole = set(needles.values)
    searched += [(v, k) for v, k in needles.paths.items() if v not in whole]
    for text, location in texts.items():
        for value, kind in searched:
            if value in text and (value != text or value not in whole):
                output, _, where = location.partition(": ")
                result.leaks.append(Leak(output, where, f"{kind} (inside text)"))


def _drop_known_values(needles: _Needles) -> None:
    known = "\x00".join(sorted(needles.retained | needles.vocabulary))
    for store in (needles.values, needles.paths):
        for value in [v for v, kind in store.items() if kind != "person name" and v in known]:
            del store[value]


def _add(target: dict[str, str], value: str, kind: str, policy: LeakPolicy) -> None:
    norm = _norm(value)
    if len(norm) >= policy.min_value_length:
        target.setdefault(norm, kind)


def _norm(value: str) -> str:
    return " ".join(str(value).replace("^", " ").split()).upper()


def _printable(raw: bytes) -> list[str]:
    """Text inside an undecoded private value (implicit VR files store private text as UN)."""
    if len(raw) > 1024:
        return []
    text = raw.decode("latin-1").strip(" \x00")
    if not text or not all(ch.isprintable() for ch in text):
        return []
    return [part for part in text.split("\\") if part.strip()]


def _strings(element) -> list[str]:
    value = element.value
    if value is None or isinstance(value, (bytes, bytearray)):
        return []
    items = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
    return [str(item) for item in items if item is not None and str(item).strip()]


def _elements(ds, wanted: frozenset[str]):
    """(tag, VR, element) for every element; only sequences, private elements and the
    ``wanted`` VRs are decoded (element None otherwise), and binary values (pixels) are never
    loaded unless private and small (they may hold text)."""
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
        element = ds[tag]
        yield tag, element.VR, element


def _read(path: Path):
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
