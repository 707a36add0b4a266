"""Progress bars for long loops: shown in a terminal, silent when piped or in CI."""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterable


def enabled() -> bool:
    """True when stderr is a terminal and ``CI`` is not set to a true value."""
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return sys.stderr.isatty() and not ci


def bar(desc: str) -> Callable[[Iterable], Iterable] | None:
    """A wrapper that shows a tqdm bar over an iterable, or None when bars are off.

    Args:
        desc: the label shown left of the bar.
    """
    if not enabled():
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=desc, leave=False, dynamic_ncols=True)
