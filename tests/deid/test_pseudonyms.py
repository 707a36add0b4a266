"""Keyed pseudonyms: deterministic per key, unlinkable across keys, valid UIDs, key kept secret."""

from __future__ import annotations

import os
import stat

import pytest

from pipeline.deid.dates import shift_da, shift_dt, shift_value
from pipeline.deid.keys import SecretKey, load_key
from pipeline.deid.pseudonyms import Pseudonymizer
from pipeline.core.errors import UserError
from tests.deid.conftest import KEY, OTHER_KEY


def _pseudo(key=KEY, root="2.25"):
    return Pseudonymizer(key, root, "SUBJ-", (-100, -30))


@pytest.mark.verifies("SRS-DEID-004")
def test_same_key_same_values_other_key_other_values():
    a, b, c = _pseudo(), _pseudo(), _pseudo(OTHER_KEY)
    uid = "1.2.840.113619.2.55.3.1234"
    assert a.patient("id:123|") == b.patient("id:123|") != c.patient("id:123|")
    assert a.uid(uid) == b.uid(uid) != c.uid(uid)
    assert a.patient("id:123|") != a.patient("id:124|")


@pytest.mark.verifies("SRS-DEID-004")
@pytest.mark.parametrize("root", ["2.25", "1.2.826.0.1.3680043.10.1234.99"])
def test_new_uids_are_valid_and_under_the_root(root):
    new = _pseudo(root=root).uid("1.2.3.4.5")
    assert new.startswith(root + ".") and len(new) <= 64
    assert all(part == "0" or (part.isdigit() and not part.startswith("0")) for part in new.split("."))


@pytest.mark.verifies("SRS-DEID-004")
def test_date_offset_is_per_patient_and_in_range():
    pseudo = _pseudo()
    offsets = {pseudo.date_offset(f"id:{n}|") for n in range(50)}
    assert all(-100 <= o <= -30 for o in offsets) and len(offsets) > 10
    assert pseudo.date_offset("id:1|") == _pseudo().date_offset("id:1|")


@pytest.mark.verifies("SRS-DEID-004")
def test_date_shift_keeps_intervals_and_times():
    assert shift_da("20200301", -1) == "20200229"
    assert shift_dt("20200301101530.5&+0100", -1) == "20200229101530.5&+0100"
    assert shift_value("20200101\\20200111", "DA", -10) == "20191222\\20200101"
    assert shift_da("2020", -1) is None and shift_dt("2020", -1) is None and shift_da("20201341", 1) is None


@pytest.mark.verifies("SRS-DEID-005")
def test_key_never_shows_in_repr_or_str():
    key = SecretKey(b"super-secret-value-123")
    assert "super" not in repr(key) and "super" not in str(key) and "super" not in f"{[key]}"


@pytest.mark.verifies("SRS-DEID-005")
def test_demo_key_is_created_once_with_mode_0600(tmp_path):
    path = tmp_path / ".secrets" / "deid.key"
    first = load_key(path, {}, "PIPELINE_DEID_KEY", create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path, {}, "PIPELINE_DEID_KEY", create=True).reveal() == first.reveal()


@pytest.mark.verifies("SRS-DEID-005")
def test_environment_key_wins_over_the_default_file_and_missing_key_is_a_clear_error(tmp_path):
    env_key = load_key(tmp_path / "absent", {"K": "from-the-environment-0123456789abcdef"}, "K", create=False)
    assert env_key.reveal() == b"from-the-environment-0123456789abcdef"
    with pytest.raises(UserError, match="does not exist"):
        load_key(tmp_path / "absent", {}, "K", create=False)
    with pytest.raises(UserError, match="too short"):
        SecretKey(b"short")
