"""Independent leak check: search de-identified outputs for identifying values of the inputs.

Separate code from the de-identifier on purpose: this module and ``leakvalues`` import
nothing from it (only pydicom and the standard library) and read the inputs themselves, so a
bug in the de-identifier is not repeated here. Which input values count as identifying is
defined in ``leakvalues``.

Where it searches: every output value that can hold identity (text, names, AE titles, UIDs,
dates, and any private value) at every depth, file meta included, as a whole value; every
such text value and every output path for identifying values of at least
``min_substring_length`` characters as substrings. Code strings (CS) and numbers hold defined
terms and measurements and are not searched. Dates are compared per file pair (an output
must not hold a date of the input it came from, since another patient's shifted date can
coincide with a real date by chance) and as substrings of text everywhere. A value made only
of digits (a date, a numeric ID) counts inside text only where no digit touches it: inside a
longer run of digits (the decimal hash of a new UID) it is indistinguishable from chance, and
with 40-digit UIDs in every output path a cohort of a few thousand files holds some 8-digit
input date somewhere by chance (48 patients did: 1 false leak). Any private element left in an
output is a leak unless safe private attributes are retained. Person names are also searched
in any order of their words, as whole words with punctuation ignored (``leaknames``).

Cost: reading the inputs and outputs once each, plus one pass of two Aho-Corasick automata
(``pyahocorasick``) over each distinct text, so it grows linearly with the data; the former
scan of every text for every value grew with files x patients (29.5 s for 24 patients, about
75 s for 48).
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from pipeline.deid import leaknames  # the checker's own half: no de-identifier code
from pipeline.deid.leakvalues import (
    SEARCH_TEXT_VRS,
    WHOLE_VALUE_VRS,
    LeakPolicy,
    Needles,
    collect_input,
    drop_known_values,
    elements,
    norm,
    read_dataset,
    strings,
)


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


def check(input_root: Path, inputs: list[Path], output_root: Path,
          pairs: dict[Path, Path], policy: LeakPolicy) -> LeakResult:
    """Search every file under ``output_root`` for identifying values of ``inputs``.

    Args:
        input_root: the input folder (paths are taken relative to it).
        inputs: every input file (quarantined ones too: their values must not leak either).
        output_root: the de-identified folder.
        pairs: output file -> the input file it was made from (for the per-file date check).
        policy: what counts as identifying (``policy.workers`` processes share the reading).
    """
    result = LeakResult()
    needles = Needles()
    per_input_dates: dict[Path, set[str]] = {}
    collected = _map(_collect_task, list(inputs), policy.workers, (Path(input_root), policy))
    for path, (partial, dates) in zip(inputs, collected):
        needles.merge(partial)
        if dates is not None:
            result.inputs_read += 1
            per_input_dates[Path(path)] = dates
    drop_known_values(needles)
    result.identifying_values = len(needles.values) + len(needles.dates) + len(needles.paths)
    outputs = sorted(p for p in Path(output_root).rglob("*") if p.is_file())
    own = [per_input_dates.get(pairs[p], set()) if p in pairs else set(needles.dates) for p in outputs]
    searched = _map(_search_task, list(zip(outputs, own)), policy.workers, (Path(output_root), needles, policy))
    texts: dict[str, str] = {}
    for leaks, found in searched:
        result.outputs_checked += 1
        result.leaks.extend(leaks)
        for text, location in found.items():
            texts.setdefault(text, location)
    _substrings(texts, needles, result, policy)
    return result


_STATE: tuple = ()


def _map(task, items: list, workers: int, state: tuple) -> list:
    """``task`` over ``items`` in order, in this process or in ``workers`` processes."""
    if workers <= 1 or len(items) < 64:
        _set_state(*state)
        return [task(item) for item in items]
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_state, initargs=state)
    try:
        return list(pool.map(task, items, chunksize=16))
    finally:  # on Ctrl-C, items not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_state(*state) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: one message, no tracebacks
    _set_state(*state)


def _set_state(*state) -> None:
    global _STATE
    _STATE = state


def _collect_task(path: Path):
    input_root, policy = _STATE
    return collect_input(path, input_root, policy)


def _search_task(item: tuple[Path, set[str]]) -> tuple[list[Leak], dict[str, str]]:
    path, own_dates = item
    output_root, needles, policy = _STATE
    relative = path.relative_to(output_root).as_posix()
    leaks: list[Leak] = []
    texts = {relative.upper(): f"{relative}: path"}
    ds = read_dataset(path)
    if ds is None:
        return [Leak(relative, "file", "unreadable output")], texts
    _search(ds, relative, needles, own_dates, texts, leaks, policy, "")
    _search(ds.file_meta, relative, needles, own_dates, texts, leaks, policy, "meta ")
    return leaks, texts


def _search(ds, relative: str, needles: Needles, own_dates: set[str], texts: dict[str, str],
            leaks: list[Leak], policy: LeakPolicy, prefix: str) -> None:
    keep_private = "rtnSafePrivOpt" in policy.option_columns
    for tag, vr, element in elements(ds, WHOLE_VALUE_VRS):
        where = f"{prefix}{tag}"
        if tag.group & 1 and not keep_private and tag.element >= 0x10:
            leaks.append(Leak(relative, where, "private attribute present"))
        if vr == "SQ":
            for item in element.value or []:
                _search(item, relative, needles, own_dates, texts, leaks, policy, f"{where} > ")
            continue
        private = bool(tag.group & 1)
        if element is None or vr not in WHOLE_VALUE_VRS and not private:
            continue
        for value in strings(element):
            key = norm(value)
            if key in needles.values:
                leaks.append(Leak(relative, where, needles.values[key]))
            if vr in ("DA", "DT") and key[:8] in own_dates:
                leaks.append(Leak(relative, where, "date of the same input"))
            if (vr in SEARCH_TEXT_VRS or private) and len(key) >= policy.min_substring_length:
                texts.setdefault(key, f"{relative}: {where}")


def _substrings(texts: dict[str, str], needles: Needles, result: LeakResult, policy: LeakPolicy) -> None:
    """Every identifying value inside every collected text, in one pass per text.

    Two Aho-Corasick automata (``pyahocorasick``) replace a scan per (text, value) pair, so the
    cost grows with the size of the texts and of the values, not with their product: values
    of at least ``min_substring_length`` characters, every date and the input path components
    inside the texts as they are (upper case, spacing normalised); person names in any order
    as whole words of the texts with punctuation ignored. Each value is reported once per text.
    """
    searched = [(v, k) for v, k in needles.values.items()
                if len(v) >= policy.min_substring_length and k != leaknames.ORDERED]
    searched += [(v, "date in text") for v in needles.dates]
    whole = set(needles.values)
    searched += [(v, k) for v, k in needles.paths.items() if v not in whole]
    ordered = [(v, k) for v, k in needles.values.items() if k == leaknames.ORDERED]
    plain, by_words = _automaton(searched), _automaton(ordered)
    for text, location in texts.items():
        found = set()
        if plain is not None:
            for end, (index, value) in plain.iter(text):
                if index not in found and (value != text or value not in whole) \
                        and _stands_alone(text, end - len(value) + 1, end):
                    found.add(index)
        words = leaknames.words_form(text) if by_words is not None else ""
        if words:
            for end, (index, value) in by_words.iter(words):
                start = end - len(value) + 1
                if (start == 0 or words[start - 1] == " ") and (end + 1 == len(words) or words[end + 1] == " "):
                    found.add(len(searched) + index)
        for index in sorted(found):
            kind = searched[index][1] if index < len(searched) else ordered[index - len(searched)][1]
            output, _, where = location.partition(": ")
            result.leaks.append(Leak(output, where, f"{kind} (inside text)"))


def _automaton(values: list[tuple[str, str]]):
    """An Aho-Corasick automaton yielding (index, value) for each of ``values``; None if empty."""
    if not values:
        return None
    automaton = ahocorasick.Automaton()
    for index, (value, _) in enumerate(values):
        automaton.add_word(value, (index, value))
    automaton.make_automaton()
    return automaton


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end + 1]`` stands as itself: a digit-only value not inside a digit run."""
    if not text[start:end + 1].isdigit():
        return True
    return (start == 0 or not text[start - 1].isdigit()) and (end + 1 == len(text) or not text[end + 1].isdigit())
