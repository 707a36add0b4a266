"""The record of every evaluation of a locked split: ``verification/test_split_log.json``.

Each run of the verify stage appends one entry (the split's content identity, the models'
hashes, the outcome and the criteria that failed) to a log tracked in git, so the count survives fresh
clones and cannot be reset by deleting a local MLflow store. The count per split is what the
V&V plan's ``test_split_policy`` limits and what the technical file reports: a result on a
split evaluated before is not a first look, and every earlier outcome, failures included, is
shown beside it. Entries recorded by hand (evaluations made before this log existed) say so in
their ``source``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from pydantic import Field, ValidationError

from pipeline.core.atomic import atomic_file
from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel


class Evaluation(StrictModel):
    """One evaluation of a locked split."""

    split: str = Field(description="the split's name, e.g. test")
    split_sha256: str = Field(description="content identity of the split's cases (``split_identity``)")
    git_commit: str
    models: dict[str, str | None] = Field(description="model name -> SHA-256 of the evaluated file")
    release_status: str
    failed: list[str] = Field(default_factory=list)
    source: str = Field(default="verify stage", description="who recorded it")


class EvaluationLog(StrictModel):
    """Every recorded evaluation, oldest first."""

    evaluations: list[Evaluation] = Field(default_factory=list)

    def of_split(self, split_sha256: str, split: str = "test") -> list[Evaluation]:
        """The evaluations of one split (identified by ``split_identity``)."""
        return [e for e in self.evaluations if e.split_sha256 == split_sha256 and e.split == split]


def split_identity(cases: list[dict]) -> str:
    """SHA-256 over the sorted digests of the cases' image and label arrays.

    The splits file and the case IDs change with the de-identification key (pseudonyms, new
    UIDs) and the cache files with their write time; the arrays do not, so the same patients
    give the same identity in every clone.
    """
    digests = []
    for case in cases:
        digest = hashlib.sha256()
        for key in ("image", "label"):
            array = np.ascontiguousarray(case[key])
            digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
        digests.append(digest.hexdigest())
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def read_log(path: Path) -> EvaluationLog:
    """The log at ``path`` (an empty log when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return EvaluationLog()
    try:
        return EvaluationLog.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise UserError(f"{path} is not a valid test-split log: {exc}") from None


def append(path: Path, entry: Evaluation) -> EvaluationLog:
    """Append ``entry`` to the log at ``path`` (written atomically) and return the new log."""
    log = read_log(path)
    log = EvaluationLog(evaluations=[*log.evaluations, entry])
    with atomic_file(Path(path)) as handle:
        handle.write(json.dumps(log.model_dump(mode="json"), indent=2) + "\n")
    return log
