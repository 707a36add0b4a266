"""The key (issue 16, item 4): an explicit key file wins, short keys and shared key files are refused."""

from __future__ import annotations

import pydicom
import pytest

from pipeline.core.errors import UserError
from pipeline.deid.keys import MIN_KEY_BYTES, load_key
from tests.deid.conftest import KEY_TEXT, deid_cli, one_study, write_key

ENV_KEY = "an-environment-key-that-is-long-enough-0123456789"


@pytest.fixture
def src(raw_cohort, tmp_path, monkeypatch):
    monkeypatch.delenv("PIPELINE_DEID_KEY", raising=False)
    return one_study(raw_cohort, tmp_path / "src")


def _patient_id(folder) -> str:
    return pydicom.dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True).PatientID


@pytest.mark.verifies("SRS-DEID-012", "SRS-PLAT-001")
def test_an_explicit_key_file_wins_over_the_environment(src, tmp_path, capsys, monkeypatch):
    key = write_key(tmp_path / "key")
    assert deid_cli(src, tmp_path / "file_only", "--key-file", key, capsys=capsys)[0] == 0
    monkeypatch.setenv("PIPELINE_DEID_KEY", ENV_KEY)
    assert deid_cli(src, tmp_path / "both", "--key-file", key, capsys=capsys)[0] == 0
    assert _patient_id(tmp_path / "both") == _patient_id(tmp_path / "file_only")
    code, err = deid_cli(src, tmp_path / "missing", "--key-file", tmp_path / "absent", capsys=capsys)
    assert code == 2 and len(err) == 1 and "does not exist" in err[0]
    assert not (tmp_path / "missing").exists()
    assert deid_cli(src, tmp_path / "env_only", capsys=capsys)[0] == 0  # no --key-file: the environment
    assert _patient_id(tmp_path / "env_only") != _patient_id(tmp_path / "file_only")


@pytest.mark.verifies("SRS-DEID-012", "SRS-PLAT-001")
def test_keys_shorter_than_32_bytes_are_refused(src, tmp_path, capsys, monkeypatch):
    short = write_key(tmp_path / "short", "0123456789abcdef\n")  # 16 bytes
    code, err = deid_cli(src, tmp_path / "out", "--key-file", short, capsys=capsys)
    assert code == 2 and len(err) == 1 and "too short (16 bytes)" in err[0] and "0123" not in err[0]
    monkeypatch.setenv("PIPELINE_DEID_KEY", "0123456789abcdef")
    code, err = deid_cli(src, tmp_path / "out", capsys=capsys)
    assert code == 2 and len(err) == 1 and "too short" in err[0] and "PIPELINE_DEID_KEY" in err[0]
    assert not (tmp_path / "out").exists()
    exact = write_key(tmp_path / "exact", "k" * MIN_KEY_BYTES)
    assert load_key(exact, {}, "K", create=False).reveal() == b"k" * MIN_KEY_BYTES


@pytest.mark.verifies("SRS-DEID-012", "SRS-PLAT-001")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=lambda mode: f"{mode:04o}")
def test_a_key_file_other_users_can_access_is_refused(src, tmp_path, capsys, mode):
    key = write_key(tmp_path / "key", KEY_TEXT, mode)
    code, err = deid_cli(src, tmp_path / "out", "--key-file", key, capsys=capsys)
    assert code == 2 and len(err) == 1 and f"chmod 600 {key}" in err[0] and f"{mode:04o}" in err[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(UserError, match="chmod 600"):
        load_key(key, {}, "K", create=False)
