"""The record of every evaluation of a locked split: ``verification/test_split_log.json``.

Each run of the verify stage appends one entry (the split's content identity, the models'
hashes, the outcome and the criteria that failed) to a log tracked in git, so the count survives fresh
clones and cannot be reset by deleting a local MLflow store. The count per split is what the
V&V plan's ``test_split_policy`` limits and what the technical file reports: a result on a
split evaluated before is not a first look, and every earlier outcome, failures included, is
shown beside it. Entries recorded by hand (evaluations made before this log existed) say so in
their ``source``.

What is counted is looks, not runs. A look is identified by what it showed (``look_key``): the
model versions (each file's SHA-256 without its provenance metadata, so a rebuild of the same
weights, operating point and preprocessing at another commit is the same version), the
acceptance criteria that judged them, and the per-case accuracy results (timings and pseudonyms
left out: they differ between runs and clones without telling anything about the split). A
re-run that shows exactly what an earlier one showed (a fresh clone's ``make repro``, a refactor
that leaves the models unchanged) is recorded as a run, but no new information about the split
reached anyone, so it is no new look. Entries without a key (recorded by hand, or by an earlier
version of this code) count as one look each.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

import numpy as np
import onnx

from pipeline.core.atomic import atomic_file
from pipeline.data.cache import LoadedCase
from pipeline.verify.record import Evaluation, EvaluationLog, load_test_split_log


def looks(history: Iterable[Evaluation]) -> int:
    """How many distinct looks ``history`` holds: runs that showed the same thing count once."""
    keys = [e.look if e.look else f"run-{index}" for index, e in enumerate(history)]
    return len(set(keys))


PROVENANCE_KEYS = ("git_commit", "training_run_id")  # metadata that says where a file came from, not what it computes


def model_version(path: Path) -> str:
    """SHA-256 of an ONNX file with its provenance metadata removed (graph, weights, spec kept)."""
    model = onnx.load_model(str(path), load_external_data=False)
    kept = [p for p in model.metadata_props if p.key not in PROVENANCE_KEYS]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()


TIMING_FIELDS = ("inference_ms", "speedup_vs_teacher")  # differ from run to run: not results about the split
IDENTIFIER_FIELDS = ("case_id", "patient_id")  # pseudonyms: differ between clones (another deid key)


def look_key(model_versions: dict[str, str], criteria: list[dict], rows: dict[str, list[dict]]) -> str:
    """SHA-256 of what an evaluation showed: model versions, the criteria and per-case accuracy.

    Args:
        model_versions: model name -> ``model_version``.
        criteria: the acceptance criteria that judged the split (the fields that decide a verdict).
        rows: model name -> per-case result rows of the split.
    """
    results = {name: sorted(json.dumps({k: _plain(v) for k, v in row.items()
                                        if k not in TIMING_FIELDS + IDENTIFIER_FIELDS}, sort_keys=True)
                            for row in case_rows)
               for name, case_rows in rows.items()}
    blob = json.dumps({"models": model_versions, "criteria": criteria, "results": results}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(value):
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def split_identity(cases: list[LoadedCase]) -> str:
    """SHA-256 over the sorted digests of the cases' image and label arrays.

    The splits file and the case IDs change with the de-identification key (pseudonyms, new
    UIDs) and the cache files with their write time; the arrays do not, so the same patients
    give the same identity in every clone.
    """
    digests = []
    for case in cases:
        digest = hashlib.sha256()
        for key, values in (("image", case.image), ("label", case.label)):
            array = np.ascontiguousarray(values)
            digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
        digests.append(digest.hexdigest())
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def read_log(path: Path) -> EvaluationLog:
    """The log at ``path`` (an empty log when the file does not exist)."""
    path = Path(path)
    return load_test_split_log(path) if path.is_file() else EvaluationLog()


def append(path: Path, entry: Evaluation) -> EvaluationLog:
    """Append ``entry`` to the log at ``path`` (written atomically) and return the new log."""
    log = read_log(path)
    log = EvaluationLog(evaluations=[*log.evaluations, entry])
    with atomic_file(Path(path)) as handle:
        handle.write(json.dumps(log.model_dump(mode="json"), indent=2) + "\n")
    return log
