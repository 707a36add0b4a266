"""Progress bars for long work: shown in a terminal, silent in CI and when piped."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, Iterable, Iterator, TypeVar

from tqdm import tqdm

Item = TypeVar("Item")


def progress(items: Iterable[Item], total: int | None = None, desc: str = "") -> Iterator[Item]:
    """Wrap ``items`` in a tqdm bar when stderr is a terminal and ``CI`` is not set."""
    return iter(tqdm(items, total=total, desc=desc, disable=not show_progress(), leave=False))


def show_progress() -> bool:
    """True in an interactive terminal outside CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def bar(desc: str) -> Callable[[Iterable[Item]], Iterator[Item]]:
    """A one-argument wrapper labelled ``desc``, for stage cores that take a ``progress`` callable."""
    return functools.partial(progress, desc=desc)
