"""Fixtures: one complete recorded run rendered with PDF, one with a failed criterion, pdftoppm."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pipeline.techfile import stage
from pipeline.techfile.context import TechfilePaths
from tests.techfile.fixture import PARAMS, make_run
from tests.paths import PATHS


@pytest.fixture(scope="session")
def good_run(tmp_path_factory):
    """A releasable recorded run, rendered once with its PDF: ``(root, config, result)``.

    Shared by every module (rendering the PDF costs 30-50 s): tests read it; a test that
    changes a run works on a copy (``test_render._copy_run``) or builds its own."""
    root = tmp_path_factory.mktemp("techfile-good")
    config = make_run(root)
    result = stage.run(PARAMS, TechfilePaths(root, PATHS), config, pdf=True)
    return root, config, result


@pytest.fixture(scope="session")
def failed_run(tmp_path_factory):
    """A recorded run whose criterion VAL-001 failed, rendered (HTML only)."""
    root = tmp_path_factory.mktemp("techfile-failed")
    config = make_run(root, failed_criterion=True)
    result = stage.run(PARAMS, TechfilePaths(root, PATHS), config, pdf=False)
    return root, config, result


@pytest.fixture(scope="session")
def pdftoppm() -> str:
    """Path of Debian's ``pdftoppm``; installed with apt-get when missing and possible.

    Outside CI the test is skipped with the reason when it cannot be installed; under
    ``CI=true`` that is a failure, so the check cannot silently disappear.
    """
    return _poppler("pdftoppm")


@pytest.fixture(scope="session")
def pdftotext() -> str:
    """Path of Debian's ``pdftotext`` (same package and rules as ``pdftoppm``)."""
    return _poppler("pdftotext")


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "poppler-utils"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
            subprocess.run(install, capture_output=True, env=env)
        found = shutil.which(tool)
    if found is None:
        reason = f"{tool} (Debian poppler-utils) is not installed and could not be installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: this check must run)")
        pytest.skip(reason)
    return found
