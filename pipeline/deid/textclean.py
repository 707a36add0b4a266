"""Action C on text (Clean Descriptors, Clean Structured Content): keep meaning, drop identity.

The identifying words are those of the same file's identifying attributes (every name
component, every ID, address, phone number, accession, date...). They are removed from the
text as whole words, case-insensitively, together with anything shaped like a date or a long
number (record numbers, phone numbers), then the spacing is tidied.
"""

from __future__ import annotations

import functools
import re

MIN_WORD = 3
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DATE_LIKE = re.compile(r"\b\d{1,4}[-./]\d{1,2}[-./]\d{1,4}\b")
_LONG_NUMBER = re.compile(r"(?<![\w.])[+]?\d[\d ()/-]{4,}\d(?![\w.])")
_SPACES = re.compile(r"\s{2,}")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_DANGLING = re.compile(r"(\s+[,;:]+)|([,;:(]+\s*$)|(^\s*[,;:)]+)")


def identifier_words(values: list[str]) -> frozenset[str]:
    """The words of identifying values that are removed from cleaned text.

    Args:
        values: the original values of the file's identifying attributes.
    """
    words = set()
    for value in values:
        for word in _WORD.findall(value.replace("^", " ")):
            if len(word) >= MIN_WORD:
                words.add(word.upper())
    return frozenset(words)


def clean_text(text: str, words: frozenset[str], generic: bool = True,
               names: frozenset[tuple[str, ...]] = frozenset()) -> str:
    """``text`` without the identifying ``words`` (and, if ``generic``, dates and long numbers).

    Args:
        text: one value of a descriptor (multi-values are cleaned one by one).
        words: upper-case identifying words from ``identifier_words``.
        generic: also remove anything shaped like a date or a long number; off for allow-listed
            technical text (codes, versions), where only the file's own identifying words
            (numbers excepted) are removed.
        names: the words of each person name of the file (``names.words_of``): a run of two
            or more words of one name, in any order and separated by spaces, commas or full
            stops, is removed however short each word is ("Li Wu", "Hugo J. Okafor").
    """
    cleaned = text
    for pattern in _name_patterns(names):
        cleaned = pattern.sub(_drop_run, cleaned)
    if generic:
        cleaned = _LONG_NUMBER.sub(" ", _DATE_LIKE.sub(" ", cleaned))
    else:
        words = _without_numbers(words)
    pattern = _pattern(words)
    if pattern is not None:
        cleaned = pattern.sub(" ", cleaned)
    cleaned = _EMPTY_BRACKETS.sub(" ", cleaned)
    cleaned = _SPACES.sub(" ", cleaned)
    cleaned = _DANGLING.sub("", cleaned)
    return _SPACES.sub(" ", cleaned).strip()


@functools.lru_cache(maxsize=256)
def _without_numbers(words: frozenset[str]) -> frozenset[str]:
    return frozenset(word for word in words if not word.isdigit())


@functools.lru_cache(maxsize=256)
def _pattern(words: frozenset[str]) -> re.Pattern | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _name_patterns(names: frozenset[tuple[str, ...]]) -> tuple[re.Pattern, ...]:
    patterns = []
    for words in sorted(names):
        named = [word for word in words if not word.isdigit()]
        if len(named) < 2:
            continue
        one = "(?:" + "|".join(re.escape(word) for word in sorted(named, key=len, reverse=True)) + ")"
        patterns.append(re.compile(rf"(?<![^\W_]){one}(?:[\s,.]+{one})+\.?(?![^\W_])", re.IGNORECASE))
    return tuple(patterns)


def _drop_run(match: re.Match) -> str:
    """A run of name words goes unless every word in it is a single letter (initials alone)."""
    return " " if any(len(word) > 1 for word in _WORD.findall(match.group(0))) else match.group(0)
