"""The preprocessed cache: one compressed ``.npz`` per case plus ``index.json``.

Layout of ``data/preprocessed/``::

    index.json              spatial dims, spacing, per-case attributes, shape, affine, sha256
    cases/<case_id>.npz     image (1, ...) float32 and label (1, ...) uint8

``load_cases`` is the only way other stages read cases: it checks each file against the
SHA-256 recorded in the splits file and refuses the locked test split unless the caller is
V&V and says so (``allow_locked=True``). The index and the splits are the preprocess stage's
records, parsed through their models (``pipeline.preprocess.records``). Each case comes back
typed (``LoadedCase``): its index record and its two arrays, read by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.provenance import file_sha256
from pipeline.preprocess.records import CacheIndex, IndexedCase, SplitCase, SplitsRecord, load_cache_index

INDEX = "index.json"
CASES = "cases"


class LockedSplitError(PermissionError):
    """Raised when code other than V&V asks for the locked test split."""


@dataclass(frozen=True, eq=False)
class LoadedCase:
    """One cached case as ``load_cases`` returns it: its index record and its arrays.

    The attributes (patient, site, spacing, ...) are the record's (``case.record.site``); the
    case ID, which every consumer keys its results by, is also ``case.case_id``. MONAI's
    dictionary transforms get their ``{"image", "label"}`` dict in one place, where they are
    applied (``pipeline.recipe.patches.transform_item``). Compared by identity (arrays have no
    single truth value).
    """

    record: IndexedCase
    image: np.ndarray  # (C, *spatial) float32, as cached
    label: np.ndarray  # (1, *spatial) uint8, as cached

    @property
    def case_id(self) -> str:
        """The case's ID (``record.case_id``)."""
        return self.record.case_id


def write_case(folder: Path, case_id: str, image: np.ndarray, label: np.ndarray) -> str:
    """Write one case as ``cases/<case_id>.npz``; return the file's SHA-256."""
    path = Path(folder) / CASES / f"{case_id}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, image=image.astype(np.float32), label=label.astype(np.uint8))
    return file_sha256(path)


def read_index(folder: Path) -> CacheIndex:
    """The cache's ``index.json``, parsed (a ``UserError`` naming the file when it is not valid)."""
    return load_cache_index(Path(folder) / INDEX)


def load_cases(folder: Path, splits: SplitsRecord, names: list[str],
               allow_locked: bool = False) -> dict[str, list[LoadedCase]]:
    """Load the cases of the named splits, verified against their recorded SHA-256.

    Args:
        folder: the preprocessed cache folder.
        splits: the splits record (``pipeline.preprocess.records.load_splits``).
        names: which splits to load, e.g. ``["train", "val"]``.
        allow_locked: only V&V passes True to read the locked test split.
    Returns:
        split name -> its cases (``LoadedCase``), in the order of the splits record.
    """
    locked = [name for name in names if name in splits.locked]
    if locked and not allow_locked:
        raise LockedSplitError(f"split(s) {locked} are locked for V&V and may not be read here")
    index = read_index(folder).cases
    loaded: dict[str, list[LoadedCase]] = {}
    for name in names:
        loaded[name] = [_load(Path(folder), entry, index) for entry in splits.cases(name)]
    return loaded


def _load(folder: Path, entry: SplitCase, index: dict[str, IndexedCase]) -> LoadedCase:
    path = folder / CASES / f"{entry.case_id}.npz"
    digest = file_sha256(path)
    if digest != entry.sha256:
        raise ValueError(f"{path} does not match the SHA-256 recorded in the splits file "
                         f"({digest[:12]} != {entry.sha256[:12]}): rerun preprocess")
    with np.load(path) as data:
        image, label = data["image"], data["label"]
    return LoadedCase(record=index[entry.case_id], image=image, label=label)
