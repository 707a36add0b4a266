"""The preprocessed cache: one compressed ``.npz`` per case plus ``index.json``.

Layout of ``data/preprocessed/``::

    index.json              spatial dims, spacing, per-case attributes, shape, affine, sha256
    cases/<case_id>.npz     image (1, ...) float32 and label (1, ...) uint8

``load_cases`` is the only way other stages read cases: it checks each file against the
SHA-256 recorded in the splits file and refuses the locked test split unless the caller is
V&V and says so (``allow_locked=True``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.core.provenance import file_sha256

INDEX = "index.json"
CASES = "cases"
LOCKED = ("test", "external")


class LockedSplitError(PermissionError):
    """Raised when code other than V&V asks for the locked test split."""


def write_case(folder: Path, case_id: str, image: np.ndarray, label: np.ndarray) -> str:
    """Write one case as ``cases/<case_id>.npz``; return the file's SHA-256."""
    path = Path(folder) / CASES / f"{case_id}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, image=image.astype(np.float32), label=label.astype(np.uint8))
    return file_sha256(path)


def read_index(folder: Path) -> dict:
    """The cache's ``index.json``."""
    return json.loads((Path(folder) / INDEX).read_text())


def load_cases(folder: Path, splits: dict, names: list[str], allow_locked: bool = False) -> dict[str, list[dict]]:
    """Load the cases of the named splits, verified against their recorded SHA-256.

    Args:
        folder: the preprocessed cache folder.
        splits: the parsed splits JSON.
        names: which splits to load, e.g. ``["train", "val"]``.
        allow_locked: only V&V passes True to read the locked test split.
    Returns:
        split name -> list of ``{"case_id", "image", "label", ...attributes}``.
    """
    locked = [name for name in names if name in splits.get("locked", LOCKED)]
    if locked and not allow_locked:
        raise LockedSplitError(f"split(s) {locked} are locked for V&V and may not be read here")
    index = read_index(folder)["cases"]
    loaded: dict[str, list[dict]] = {}
    for name in names:
        loaded[name] = [_load(Path(folder), entry, index) for entry in splits["splits"].get(name, [])]
    return loaded


def _load(folder: Path, entry: dict, index: dict) -> dict:
    path = folder / CASES / f"{entry['case_id']}.npz"
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise ValueError(f"{path} does not match the SHA-256 recorded in the splits file "
                         f"({digest[:12]} != {entry['sha256'][:12]}): rerun preprocess")
    with np.load(path) as data:
        image, label = data["image"], data["label"]
    return {**index[entry["case_id"]], "image": image, "label": label}
