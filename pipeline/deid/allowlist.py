"""Attributes outside the Annex E table that are kept: the safe-attribute and safe-private lists.

Both lists are data (``data/safe_attributes.json``, ``data/safe_private.json``). Module
contents come from the PS3.3 module tables that ship with highdicom, so the allow-list names
modules ("image-plane", "segmentation-image", ...) rather than hundreds of tags.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import tag_for_keyword

DATA = Path(__file__).parent / "data"
SAFE_ATTRIBUTES = DATA / "safe_attributes.json"
SAFE_PRIVATE = DATA / "safe_private.json"


@dataclass(frozen=True)
class AllowList:
    """Tags kept although the table has no row for them, and safe private attributes."""

    tags: frozenset[int]
    private: frozenset[tuple[str, int, int]]

    def allows(self, tag: int) -> bool:
        """Whether a standard attribute without a table row is kept (60xx looked up as 6000)."""
        group = tag >> 16
        if 0x6000 <= group <= 0x60FF:
            tag = (0x6000 << 16) | (tag & 0xFFFF)
        return tag in self.tags

    def allows_private(self, creator: str, group: int, offset: int) -> bool:
        """Whether private element ``offset`` (0x00-0xFF) of ``creator`` in ``group`` is safe."""
        return (creator.strip().upper(), group, offset) in self.private


def build_allowlist(clean_graphics: bool, retain_safe_private: bool) -> AllowList:
    """The allow-list for the chosen options.

    Args:
        clean_graphics: overlays are kept (their module attributes are allowed).
        retain_safe_private: the safe private list applies (else no private attribute is kept).
    """
    return AllowList(
        tags=_safe_tags(clean_graphics),
        private=_safe_private() if retain_safe_private else frozenset(),
    )


@functools.lru_cache(maxsize=2)
def _safe_tags(clean_graphics: bool) -> frozenset[int]:
    spec = json.loads(SAFE_ATTRIBUTES.read_text())
    modules = list(spec["modules"]) + (list(spec["graphics_modules"]) if clean_graphics else [])
    keywords = set(spec["keywords"]) | module_keywords(tuple(modules))
    keywords -= set(spec["exclude"])
    tags = set()
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is not None:
            tags.add(int(tag))
    return frozenset(tags)


@functools.lru_cache(maxsize=4)
def module_keywords(modules: tuple[str, ...]) -> set[str]:
    """Every attribute keyword of ``modules`` at every nesting level (PS3.3 via highdicom).

    Args:
        modules: module names as highdicom spells them, e.g. ``"image-plane"``.
    """
    from highdicom._standard_utils import get_module_attribute_map

    table = get_module_attribute_map()
    unknown = [name for name in modules if name not in table]
    if unknown:
        raise ValueError(f"{SAFE_ATTRIBUTES}: unknown module(s) {unknown}")
    keywords: set[str] = set()
    for name in modules:
        for attribute in table[name]:
            keywords.add(attribute["keyword"])
            keywords.update(attribute["path"])
    return keywords


@functools.lru_cache(maxsize=1)
def _safe_private() -> frozenset[tuple[str, int, int]]:
    spec = json.loads(SAFE_PRIVATE.read_text())
    return frozenset(
        (item["creator"].strip().upper(), int(item["group"], 16), int(item["element"], 16))
        for item in spec["attributes"]
    )
