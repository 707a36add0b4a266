"""The hash chain of the use log: each record carries the SHA-256 of the record before it.

A record is a JSON object; its ``hash`` is the SHA-256 of its canonical JSON without the ``hash``
key (sorted keys, no spaces, UTF-8), and its ``prev`` is the previous record's ``hash`` (``GENESIS``
for the first) with ``seq`` counting from 1. Editing a record changes its hash, and removing,
inserting or reordering records breaks a ``prev`` or ``seq`` link, so ``verify`` names the first
record that no longer fits. What a chain alone cannot show is the removal of the newest records:
compare the count and last hash ``verify`` prints with a copy kept elsewhere (the periodic report).
Why our own code: a dozen lines of ``hashlib``; a transparency log service would need a network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of ``verify``: how many records fit, the last good hash, the first break."""

    records: int
    last_hash: str
    broken_line: int | None = None  # 1-based line number of the first record that does not fit
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether every line is a record that fits the chain."""
        return self.broken_line is None


def canonical(data: dict) -> bytes:
    """The bytes that are hashed and written: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_hash(record: dict) -> str:
    """SHA-256 of the record's canonical JSON without its ``hash`` key."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def seal(body: dict, prev_hash: str, seq: int) -> dict:
    """The record for ``body`` following the record with hash ``prev_hash`` (``seq`` from 1).

    Args:
        body: the record's content (must not use the keys ``prev``, ``seq`` or ``hash``).
        prev_hash: the previous record's ``hash``, or ``GENESIS``.
        seq: this record's position in the log.
    """
    clash = {"prev", "seq", "hash"} & set(body)
    if clash:
        raise ValueError(f"a record body may not set {sorted(clash)}")
    record = {**body, "prev": prev_hash, "seq": seq}
    return {**record, "hash": record_hash(record)}


def line(record: dict) -> bytes:
    """One JSON Lines line of a sealed record (canonical JSON and a newline)."""
    return canonical(record) + b"\n"


def verify(lines: list[bytes]) -> ChainCheck:
    """Check every line of a log; stop at the first that is not a record fitting the chain.

    Args:
        lines: the file's lines, each with its newline (a last line without one was cut off).
    """
    prev, count = GENESIS, 0
    for number, raw in enumerate(lines, start=1):
        problem = _problem(raw, prev, count + 1)
        if problem:
            return ChainCheck(count, prev, number, problem)
        prev, count = json.loads(raw)["hash"], count + 1
    return ChainCheck(count, prev)


def _problem(raw: bytes, prev: str, seq: int) -> str:
    if not raw.endswith(b"\n"):
        return "incomplete record (no newline at the end of the file): a write was cut off"
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not a JSON record ({exc})"
    if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
        return "not a sealed record (no hash)"
    if record_hash(record) != record["hash"]:
        return "content does not match its hash: the record was edited"
    if record.get("prev") != prev:
        return (f"prev {str(record.get('prev'))[:12]} does not match the previous record's hash {prev[:12]}: "
                "a record before it was removed, inserted or reordered")
    if record.get("seq") != seq:
        return f"seq {record.get('seq')} where {seq} was expected: records were removed or reordered"
    return ""
