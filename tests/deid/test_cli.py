"""The standalone command and the stage wrapper: key handling, errors, output."""

from __future__ import annotations

import shutil

import pytest

from pipeline.cli import main


@pytest.mark.verifies("SRS-DEID-005", "SRS-PLAT-001")
def test_standalone_command_needs_a_key_and_never_prints_it(raw_cohort, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PIPELINE_DEID_KEY", raising=False)
    src = tmp_path / "src"
    shutil.copytree(next(raw_cohort.rglob("SEG")).parent, src / "study")
    assert main(["deid", str(src), str(tmp_path / "out"), "--key-file", str(tmp_path / "nokey")]) == 2
    assert "does not exist" in capsys.readouterr().err
    key = tmp_path / "key"
    key.write_text("a-secret-key-for-the-cli-test-0042\n")
    key.chmod(0o600)
    assert main(["deid", str(src), str(tmp_path / "out"), "--key-file", str(key)]) == 0
    printed = capsys.readouterr()
    assert "a-secret-key" not in printed.out + printed.err
    assert (tmp_path / "out_report.json").exists() and (tmp_path / "out_quarantine" / "index.json").exists()
    report = (tmp_path / "out_report.json").read_text()
    assert "a-secret-key" not in report and any((tmp_path / "out").rglob("*.dcm"))


@pytest.mark.verifies("SRS-PLAT-001")
def test_one_folder_only_is_a_user_error(tmp_path, capsys):
    assert main(["deid", str(tmp_path)]) == 2
    assert "give both" in capsys.readouterr().err
