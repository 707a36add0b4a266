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


@pytest.mark.verifies("SRS-PLAT-006")
def test_shared_outputs_get_the_release_modes_and_others_stay_private(tmp_path):
    import stat

    from pipeline.core.atomic import SHARED_DIR_MODE, SHARED_FILE_MODE, atomic_dir, write_json

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    with atomic_dir(tmp_path / "release", shared=True) as folder:
        (folder / "models").mkdir(mode=0o700)
        (folder / "models" / "m.onnx").write_bytes(b"x")
        (folder / "models" / "m.onnx").chmod(0o600)
    release = tmp_path / "release"
    assert mode(release) == mode(release / "models") == SHARED_DIR_MODE == 0o755
    assert mode(release / "models" / "m.onnx") == SHARED_FILE_MODE == 0o644
    write_json(tmp_path / "manifest.json", {}, shared=True)
    assert mode(tmp_path / "manifest.json") == 0o644
    with atomic_dir(tmp_path / "quarantine") as folder:
        (folder / "index.json").write_text("{}")
    assert mode(tmp_path / "quarantine") == 0o700  # not shared unless asked
    write_json(tmp_path / "private.json", {})
    assert mode(tmp_path / "private.json") == 0o600
