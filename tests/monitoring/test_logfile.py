"""Appending to the use log: locked, whole lines, refusals of broken logs, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from pipeline.core.errors import UserError
from pipeline.monitoring import logfile


def _append_many(path: str, worker: int, count: int) -> None:
    for n in range(count):
        logfile.append(Path(path), {"kind": "use", "use_id": f"w{worker}-{n:04d}"})


@pytest.mark.verifies("SRS-MON-002")
def test_appends_chain_records_and_read_returns_them(tmp_path):
    log = tmp_path / "state" / "use_log.jsonl"
    first = logfile.append(log, {"kind": "use", "use_id": "a" * 32})
    second = logfile.append(log, {"kind": "use", "use_id": "b" * 32})
    assert second["prev"] == first["hash"] and second["seq"] == 2
    assert [r["use_id"] for r in logfile.read(log)] == ["a" * 32, "b" * 32]
    assert log.stat().st_mode & 0o077 == 0  # private: created 0600


@pytest.mark.verifies("SRS-MON-002")
def test_two_processes_appending_at_once_keep_one_intact_chain(tmp_path):
    log = tmp_path / "use_log.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(log), w, 40)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    result = logfile.check_chain(log)
    assert result.ok and result.records == 80


@pytest.mark.verifies("SRS-MON-002")
def test_a_cut_off_last_line_is_refused_before_work_and_on_append(tmp_path):
    log = tmp_path / "use_log.jsonl"
    logfile.append(log, {"kind": "use", "use_id": "a" * 32})
    with open(log, "ab") as handle:
        handle.write(b'{"kind":"use","use_')
    with pytest.raises(UserError, match="incomplete record"):
        logfile.check_appendable(log)
    with pytest.raises(UserError, match="incomplete record"):
        logfile.append(log, {"kind": "use", "use_id": "b" * 32})


@pytest.mark.verifies("SRS-MON-002")
def test_a_last_record_edited_by_hand_is_refused(tmp_path):
    log = tmp_path / "use_log.jsonl"
    logfile.append(log, {"kind": "use", "use_id": "a" * 32})
    log.write_text(log.read_text().replace("a" * 32, "c" * 32))
    with pytest.raises(UserError, match="not a sealed record"):
        logfile.append(log, {"kind": "use", "use_id": "b" * 32})


@pytest.mark.verifies("SRS-MON-002")
def test_an_interrupted_write_leaves_no_half_line(tmp_path, monkeypatch):
    log = tmp_path / "use_log.jsonl"
    logfile.append(log, {"kind": "use", "use_id": "a" * 32})
    before = log.read_bytes()
    real_write = logfile.os.write
    calls = []

    def write_half_then_interrupt(fd, data):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real_write(fd, bytes(data[: len(data) // 2]))

    monkeypatch.setattr(logfile.os, "write", write_half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        logfile.append(log, {"kind": "use", "use_id": "b" * 32})
    assert log.read_bytes() == before


@pytest.mark.verifies("SRS-MON-001")
def test_the_default_log_is_outside_the_release_and_the_environment_overrides_it(tmp_path):
    assert logfile.default_path({"HOME": "/home/x"}) == Path("/home/x/.local/state/pipeline/use_log.jsonl")
    assert logfile.default_path({"XDG_STATE_HOME": "/s"}) == Path("/s/pipeline/use_log.jsonl")
    assert logfile.default_path({logfile.ENV: str(tmp_path / "l.jsonl")}) == tmp_path / "l.jsonl"


@pytest.mark.verifies("SRS-MON-001")
def test_a_folder_as_the_log_is_refused(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        logfile.check_appendable(tmp_path)
