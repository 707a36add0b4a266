"""Run the per-file work in worker processes, yielding outcomes in input order.

The output does not depend on the number of workers: each worker de-identifies a file and
returns its encoded bytes; the parent writes them in sorted input order, so duplicates and
file names are decided exactly as in a single process. Workers ignore Ctrl-C: the parent
stops the run and prints one line, instead of every worker printing a traceback.
"""

from __future__ import annotations

import io
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

from pipeline.deid.keys import SecretKey
from pipeline.deid.params import DeidParams
from pipeline.deid.process import Engine, Outcome, make_engine, process_file

CHUNK = 8
_ENGINE: Engine | None = None


def outcomes(files: list[Path], params: DeidParams, key: SecretKey, workers: int) -> Iterator[tuple[Path, Outcome]]:
    """``(input, outcome)`` per file, in the order of ``files``; outcomes carry encoded bytes.

    Args:
        files: the input files, sorted.
        params: the validated ``deid`` section.
        key: the secret key (sent to the workers in memory only).
        workers: number of processes; 1 runs in this process.
    """
    if workers <= 1 or len(files) < 2 * CHUNK:
        _init(params, key)
        for path in files:
            yield path, encode(path)
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(params, key))
    try:
        yield from zip(files, pool.map(encode, files, chunksize=CHUNK))
    finally:  # on Ctrl-C or an error, files not yet started are dropped, not processed first
        pool.shutdown(wait=True, cancel_futures=True)


def encode(path: Path) -> Outcome:
    """De-identify one file and encode it (the dataset is replaced by its bytes)."""
    outcome = process_file(path, _ENGINE)
    if outcome.reason is None:
        buffer = io.BytesIO()
        try:
            outcome.dataset.save_as(buffer, enforce_file_format=True)
            outcome.payload = buffer.getvalue()
        except Exception as exc:  # a value that cannot be encoded: quarantine, go on
            outcome.reason, outcome.detail = "write_failed", type(exc).__name__
        outcome.dataset = None
    return outcome


def _init_worker(params: DeidParams, key: SecretKey) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: one message
    _init(params, key)


def _init(params: DeidParams, key: SecretKey) -> None:
    global _ENGINE
    _ENGINE = make_engine(params, key)
