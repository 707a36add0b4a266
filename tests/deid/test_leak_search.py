"""The leak check's text search: Aho-Corasick, one pass per text, the same findings as a scan."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.deid import leakcheck
from pipeline.deid.leakvalues import LeakPolicy, Needles
from pipeline.deid.profile import TABLE_PATH

POLICY = LeakPolicy(TABLE_PATH)


def _reference(texts: dict[str, str], needles: Needles, policy: LeakPolicy) -> list[tuple[str, str]]:
    """The former search: every value against every text (quadratic), as the semantics to keep."""
    searched = [(v, k) for v, k in needles.values.items() if len(v) >= policy.min_substring_length]
    searched += [(v, "date in text") for v in needles.dates]
    whole = set(needles.values)
    searched += [(v, k) for v, k in needles.paths.items() if v not in whole]
    found = []
    for text, location in texts.items():
        for value, kind in searched:
            alone = not value.isdigit() or re.search(rf"(?<!\d){value}(?!\d)", text) is not None
            if value in text and (value != text or value not in whole) and alone:
                found.append((location, f"{kind} (inside text)"))
    return found


def _random_case(seed: int) -> tuple[dict[str, str], Needles]:
    rng = random.Random(seed)
    letters = "ABC 12."
    needles = Needles()
    for _ in range(30):
        value = "".join(rng.choice(letters) for _ in range(rng.randint(3, 7))).strip()
        if value:
            needles.values[value] = rng.choice(["private value", "instance UID", "identifying text"])
    for _ in range(5):
        needles.dates["".join(rng.choice("12") for _ in range(8))] = "date"
        needles.paths["".join(rng.choice("AB12") for _ in range(6))] = "input path component"
    texts = {"".join(rng.choice(letters) for _ in range(rng.randint(1, 40))): f"f{i}.dcm: (0008,103E)"
             for i in range(60)}
    return texts, needles


@pytest.mark.verifies("SRS-DEID-015", "SRS-DEID-009")
@pytest.mark.parametrize("seed", range(8))
def test_automaton_finds_what_a_scan_of_every_pair_finds(seed):
    texts, needles = _random_case(seed)
    result = leakcheck.LeakResult()
    leakcheck._substrings(texts, needles, result, POLICY)
    assert sorted((f"{leak.output}: {leak.where}", leak.kind) for leak in result.leaks) == sorted(
        _reference(texts, needles, POLICY))


@pytest.mark.verifies("SRS-DEID-015")
def test_one_automaton_pass_per_text_whatever_the_number_of_values(monkeypatch):
    passes = []
    original = leakcheck._automaton

    def counting(values):
        automaton = original(values)
        if automaton is None:
            return None

        class Counted:
            def iter(self, text):
                passes.append(text)
                return automaton.iter(text)
        return Counted()

    monkeypatch.setattr(leakcheck, "_automaton", counting)
    needles = Needles(values={f"VALUE{i:05d}": "private value" for i in range(5000)})
    texts = {f"TEXT {i} VALUE{i:05d}": f"f{i}.dcm: (0008,103E)" for i in range(200)}
    result = leakcheck.LeakResult()
    leakcheck._substrings(texts, needles, result, POLICY)
    assert len(passes) == len(texts) and len(result.leaks) == len(texts)
