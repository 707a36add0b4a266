"""Attacks on the standalone command's paths (issue 16, item 1): each is refused with one message
and nothing on disk changes."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from pipeline.deid import marker
from pipeline.deid.lock import lock_path
from tests.deid.conftest import deid_cli, one_study, snapshot, write_key


@pytest.fixture
def area(raw_cohort, tmp_path, monkeypatch):
    """``tmp_path/area/patients`` (one study), an unrelated file beside it, and a key file."""
    monkeypatch.delenv("PIPELINE_DEID_KEY", raising=False)
    src = one_study(raw_cohort, tmp_path / "area" / "patients")
    (tmp_path / "area" / "unrelated.txt").write_text("someone's notes")
    return src, write_key(tmp_path / "key")


def _refused(code: int, err: list[str], *words: str) -> None:
    assert code == 2 and len(err) == 1 and err[0].startswith("error: deid: "), err
    for word in words:
        assert word in err[0], err


@pytest.mark.verifies("SRS-DEID-011", "SRS-PLAT-001")
@pytest.mark.parametrize("where", ["same", "inside", "parent", "quarantine_is_input", "report_in_input"])
def test_output_equal_inside_or_around_the_input_is_refused(area, tmp_path, capsys, where):
    src, key = area
    extra = []
    dst = {"same": src, "inside": src / "out", "parent": src.parent}.get(where, tmp_path / "out")
    if where == "quarantine_is_input":
        extra = ["--quarantine", src]
    if where == "report_in_input":
        extra = ["--report", src / "study" / "report.json"]
    before = snapshot(tmp_path)
    code, err = deid_cli(src, dst, "--key-file", key, *extra, capsys=capsys)
    _refused(code, err, "input folder", "nothing was changed")
    assert snapshot(tmp_path) == before


@pytest.mark.verifies("SRS-DEID-011", "SRS-PLAT-001")
def test_an_empty_or_missing_input_never_replaces_the_previous_output(area, tmp_path, capsys):
    src, key = area
    dst = tmp_path / "out"
    assert deid_cli(src, dst, "--key-file", key, capsys=capsys)[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = snapshot(tmp_path)
    _refused(*deid_cli(empty, dst, "--key-file", key, capsys=capsys), "holds no files")
    _refused(*deid_cli(tmp_path / "absent", dst, "--key-file", key, capsys=capsys), "does not exist")
    assert snapshot(tmp_path) == before


@pytest.mark.verifies("SRS-DEID-011", "SRS-PLAT-001")
def test_a_folder_that_is_not_a_previous_output_is_replaced_only_with_replace(area, tmp_path, capsys):
    src, key = area
    dst = tmp_path / "thesis"
    dst.mkdir()
    (dst / "chapter1.docx").write_text("two years of work")
    before = snapshot(tmp_path)
    _refused(*deid_cli(src, dst, "--key-file", key, capsys=capsys), "--replace", str(dst))
    assert snapshot(tmp_path) == before
    report = tmp_path / "notes.json"
    report.write_text('{"mine": 1}')
    _refused(*deid_cli(src, tmp_path / "new", "--key-file", key, "--report", report, capsys=capsys), "not a deid report")
    assert not (tmp_path / "new").exists() and report.read_text() == '{"mine": 1}'
    assert deid_cli(src, dst, "--key-file", key, "--replace", capsys=capsys)[0] == 0
    assert not (dst / "chapter1.docx").exists() and marker.is_marked(dst, "output")
    assert deid_cli(src, dst, "--key-file", key, capsys=capsys)[0] == 0  # a previous output: replaced
    assert marker.is_marked(Path(f"{dst}_quarantine"), "quarantine") and any(dst.rglob("*.dcm"))


@pytest.mark.verifies("SRS-DEID-011", "SRS-PLAT-001")
def test_a_second_run_while_one_holds_the_output_is_refused(area, tmp_path, capsys):
    src, key = area
    dst = tmp_path / "out"
    held = lock_path(dst)
    assert held == Path(os.path.realpath(tmp_path)) / "out.lock"
    fd = os.open(held, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run holds the output
    try:
        _refused(*deid_cli(src, dst, "--key-file", key, capsys=capsys), "another deid run", "out.lock")
        assert not dst.exists()
    finally:
        os.close(fd)
        held.unlink()
    assert deid_cli(src, dst, "--key-file", key, capsys=capsys)[0] == 0
    assert not held.exists() and not Path(f"{dst}_quarantine.lock").exists()
