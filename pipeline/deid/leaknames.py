"""Person names for the independent leak check: a name is searched in every form it can take.

Part of the leak check: imports nothing from the de-identifier (whose own name code is
``names``), so a mistake there is not repeated here. A person name is every PN value, and every
private value that bears a name: a private element of VR PN, one whose entry in pydicom's
private dictionary names a person's name ("Patient Name", "Operator Name", "Patient First
Name"), or a text value shaped like a DICOM name (components separated by ``^``, letters only).
From each name the check searches:

* the whole name (kind ``person name``), as a whole value and inside text;
* every word of every component (family, given, middle, prefix, suffix; a component is also
  split at spaces and punctuation), titles and honorifics excepted (kind ``person name
  component``): like any other value, a whole value from ``min_value_length`` characters and
  inside text from ``min_substring_length``;
* every ordering of two or more of its words (all orderings up to ``MAX_ORDERED_WORDS`` words,
  pairs beyond) at least ``min_substring_length`` long (kind ``person name in any order``):
  inside text as whole words, case, spacing and punctuation ignored, so "Hugo Okafor",
  "okafor, hugo" and "Hugo J. Okafor" are all found for ``OKAFOR^HUGO^J`` even where every
  single word is too short to be searched alone.
"""

from __future__ import annotations

import itertools
import re

from pydicom.datadict import private_dictionary_description

WHOLE = "person name"
COMPONENT = "person name component"
ORDERED = "person name in any order"
MAX_ORDERED_WORDS = 5
TITLES = frozenset({
    "DR", "DRS", "MR", "MRS", "MS", "MISS", "MX", "PROF", "SIR", "DAME", "REV", "FR", "SR", "JR",
    "II", "III", "IV", "MD", "PHD", "DO", "RN", "DDS", "DMD", "MBBS", "FRCR", "ESQ",
})
_WORD = re.compile(r"[^\W_]+")
_NAME_SHAPE = re.compile(r"[^\W\d_]+(?:[ '.,-]+[^\W\d_]+)*\.?")
_PERSON_WORDS = ("patient", "physician", "operator", "person", "doctor", "maiden", "first", "last",
                 "referring", "requesting", "performing", "prename")


def person_needles(value: str, min_value_length: int, min_substring_length: int) -> dict[str, str]:
    """The searched forms of one person name: normalised form -> kind (see the module rules).

    Args:
        value: a PN value or a private value judged to bear a name.
        min_value_length: shorter words are not searched alone.
        min_substring_length: shorter orderings are not searched.
    """
    found: dict[str, str] = {}
    whole = " ".join(value.replace("^", " ").split()).upper()  # as values are compared
    if len(whole) >= min_value_length:
        found[whole] = WHOLE
    words = name_words(value)
    for word in words:
        if len(word) >= min_value_length:
            found.setdefault(word, COMPONENT)
    for ordered in orderings(words):
        if len(ordered) >= min_substring_length:
            found.setdefault(ordered, ORDERED)
    return found


def name_words(value: str) -> list[str]:
    """The upper-case words of a name's components, titles and honorifics left out, in order."""
    words: list[str] = []
    for word in _WORD.findall(value.upper()):
        if word not in TITLES and word not in words:
            words.append(word)
    return words


def orderings(words: list[str]) -> set[str]:
    """Every ordering of two or more ``words`` (pairs only for long names), space-joined."""
    sizes = range(2, len(words) + 1) if len(words) <= MAX_ORDERED_WORDS else (2,)
    return {" ".join(chosen) for size in sizes for chosen in itertools.permutations(words, size)}


def shaped_like_name(value: str) -> bool:
    """Whether a text value is written as a DICOM person name: ``^``-separated letter words."""
    if "^" not in value:
        return False
    parts = [part.strip() for part in re.split(r"[\^=]", value)]
    return any(len(part) >= 2 for part in parts) and all(not part or _NAME_SHAPE.fullmatch(part) for part in parts)


def described_as_name(creator: str | None, tag) -> bool:
    """Whether pydicom's private dictionary describes ``tag`` of ``creator`` as a person's name."""
    if not creator:
        return False
    try:
        description = private_dictionary_description(tag, creator).lower()
    except (KeyError, ValueError):
        return False
    return re.search(r"name(?!s\b)|prename", description) is not None and any(
        word in description for word in _PERSON_WORDS)


def words_form(text: str) -> str:
    """``text`` as upper-case words separated by single spaces (punctuation ignored)."""
    return " ".join(_WORD.findall(text.upper()))
