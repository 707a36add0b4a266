"""Open items of the technical file: what the recorded run cannot answer, and which of them the
release policy lets a release carry.

Each item is ``manufacturer input`` (evidence only the manufacturer can produce: a clinical
evaluation, a usability file) or a ``gap`` (something this software release does not do yet).
The technical file counts and lists them; the trace gates report the kinds that
``governance/policy.yaml`` (``blocking_open_items``) says block a release, so an open gap makes
the release "not releasable" on the site, in ``trace check`` and on the technical file's cover.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_model_list

FILE = Path("regulatory") / "open_items.yaml"  # relative to the checkout (pipeline/techfile/data_files.py)
Kind = Literal["manufacturer input", "gap"]


class OpenItem(StrictModel):
    """What the recorded run cannot answer: manufacturer input, or a gap of this release."""

    id: str = Field(pattern=r"^OPEN-\d{2,3}$")
    kind: Kind
    title: str = Field(min_length=1, max_length=120)
    needed: str = Field(min_length=1)
    why_not_here: str = Field(min_length=1)
    owner: str = Field(min_length=1)


def load_open_items(root: Path) -> list[OpenItem]:
    """The open items of the checkout at ``root``; none when it keeps no such file (a repository
    without a technical file). A malformed entry is a ``UserError`` naming the file and entry."""
    path = Path(root) / FILE
    return load_model_list(path, OpenItem, "open items") if path.is_file() else []
