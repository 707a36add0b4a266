"""``python -m pipeline techfile``: renders from a recorded run; a missing input exits 2 naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import cli
from tests.techfile.fixture import make_run

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-001", "SRS-PLAT-001")
def test_cli_renders_and_a_missing_input_exits_2(tmp_path, capsys):
    root = tmp_path / "run"
    make_run(root)
    params = ["--params", str(REPO / "params.yaml"), "techfile", "--root", str(root), "--no-pdf"]
    assert cli.main(params) == 0
    out = capsys.readouterr().out
    assert "release status: releasable" in out
    assert (root / "release/techfile/technical_file.html").is_file()
    shutil.rmtree(root / "data")
    assert cli.main(params) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: missing input:") and "data/splits.json" in err
