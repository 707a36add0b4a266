"""Stage outputs appear whole or not at all."""

from __future__ import annotations

import json

import pytest

from pipeline.core.atomic import atomic_dir, atomic_file, write_json


@pytest.mark.verifies("SRS-PLAT-002")
def test_atomic_dir_replaces_the_old_folder_on_success(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
        assert not (final / "new.txt").exists()
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.verifies("SRS-PLAT-002")
def test_atomic_dir_keeps_the_old_folder_on_failure(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in final.iterdir()) == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.verifies("SRS-PLAT-002")
def test_atomic_file_leaves_no_partial_file(tmp_path):
    target = tmp_path / "m.json"
    with pytest.raises(RuntimeError):
        with atomic_file(target) as handle:
            handle.write("{")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.verifies("SRS-PLAT-002")
def test_write_json_is_stable(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": [1, 2], "b": 1}
