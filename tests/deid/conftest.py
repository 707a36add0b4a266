"""Shared fixtures: a key, params, a tiny de-identified cohort and the real-file corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.deid.batch import DeidPaths, run
from pipeline.deid.keys import SecretKey
from pipeline.deid.params import DeidParams
from tests.cohort.tiny import tiny_params

KEY = SecretKey(b"test-key-0123456789abcdef")
OTHER_KEY = SecretKey(b"another-key-0123456789abcdef")
CLASSES = ["1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1"]
# No pixel is read for text (test_pixel_text.py tests that): for tests about other things (encodings,
# header leaks) on real files whose burned-in text the check would quarantine.
PIXELS_UNREAD = {"sop_classes": [], "ocr_modalities": [],
                 "unscreened_modalities": ["CT", "CR", "DX", "MR", "NM", "OT", "RTDOSE", "SEG", "US"]}


def deid_params(**changes) -> DeidParams:
    """The default-like params used by the tests (options as in params.yaml)."""
    data = {
        "source": "data/raw",  # read by the stage command only; the core is given its paths
        "options": {"retain_patient_characteristics": True, "retain_device_identity": True,
                    "retain_institution_identity": True, "clean_descriptors": True},
        "burned_in": {"sop_classes": CLASSES},
        "max_quarantined_share": 1.0,
    }
    data.update(changes)
    return DeidParams.model_validate(data)


def deid_run(src: Path, root: Path, params: DeidParams | None = None, key: SecretKey = KEY) -> tuple[dict, DeidPaths]:
    """Run the stage core from ``src`` into ``root/{out,quarantine,report.json}``."""
    paths = DeidPaths(src, root / "out", root / "quarantine", root / "report.json")
    return run(params or deid_params(), paths, key), paths


@pytest.fixture(scope="session")
def raw_cohort(tmp_path_factory) -> Path:
    from pipeline.cohort.generate import run as generate

    out = tmp_path_factory.mktemp("deid-cohort") / "raw"
    generate(tiny_params(), out)
    return out


@pytest.fixture(scope="session")
def deid_cohort(raw_cohort, tmp_path_factory):
    root = tmp_path_factory.mktemp("deid-cohort-out")
    report, paths = deid_run(raw_cohort, root)
    return report, paths


def real_files() -> list[Path]:
    """Every file of pydicom's test files (incl. pydicom-data) and of deid-data."""
    import deid_data
    import pydicom.data

    files = [Path(f) for f in pydicom.data.get_testdata_files() if Path(f).is_file()]
    root = Path(deid_data.__file__).parent / "data"
    files += [p for p in root.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    return sorted(set(files))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Links to every real file under one folder (names keep their package and sub-folders)."""
    root = tmp_path_factory.mktemp("corpus") / "in"
    for number, path in enumerate(real_files()):
        package = next(p for p in ("deid_data", "data_store", "test_files") if p in path.parts)
        relative = path.relative_to(path.parents[len(path.parts) - path.parts.index(package) - 2])
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{number}-{target.name}")
        os.symlink(path, target)
    return root


KEY_TEXT = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n"


def one_study(raw_cohort: Path, dest: Path) -> Path:
    """Copy one study of the raw cohort (a CT series and its SEG) to ``dest/study``; return ``dest``."""
    import shutil

    shutil.copytree(next(raw_cohort.rglob("SEG")).parent, dest / "study")
    return dest


def write_key(path: Path, text: str = KEY_TEXT, mode: int = 0o600) -> Path:
    """A key file with ``text`` and ``mode``."""
    path.write_text(text)
    path.chmod(mode)
    return path


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (hidden ones too) with its bytes (None for folders and links)."""
    found = {}
    for path in sorted(Path(root).rglob("*")):
        relative = path.relative_to(root).as_posix()
        found[relative] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found


def deid_cli(*args, capsys=None) -> tuple[int, list[str]]:
    """Run ``python -m pipeline deid ARGS`` in this process; the exit code and the stderr lines."""
    from pipeline.cli import main

    code = main(["deid", *map(str, args)])
    err = capsys.readouterr().err.splitlines() if capsys is not None else []
    return code, err
