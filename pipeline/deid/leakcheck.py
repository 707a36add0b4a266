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
output is a leak unless safe private attributes are retained.
"""

from __future__ import annotations

import re
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.deid.leakvalues import (  # the checker's own half: no de-identifier code
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
    searched = [(v, k) for v, k in needles.values.items() if len(v) >= policy.min_substring_length]
    searched += [(v, "date in text") for v in needles.dates]
    whole = set(needles.values)
    searched += [(v, k) for v, k in needles.paths.items() if v not in whole]
    for text, location in texts.items():
        for value, kind in searched:
            if value in text and (value != text or value not in whole) and _stands_alone(value, text):
                output, _, where = location.partition(": ")
                result.leaks.append(Leak(output, where, f"{kind} (inside text)"))


def _stands_alone(value: str, text: str) -> bool:
    """Whether ``value`` occurs in ``text`` as itself: digit-only values not inside a digit run."""
    if not value.isdigit():
        return True
    return re.search(rf"(?<!\d){value}(?!\d)", text) is not None
