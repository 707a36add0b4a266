"""Project-wide pytest set-up: the requirement-marker plugin (and pytester for its tests), and the
source commit written into the test report.

The trace gates compare the report's ``source_commit`` with the commit a release is rendered
from, so a release never cites tests that ran on other (or uncommitted) sources.
"""

from pathlib import Path

import pytest

from pipeline.core.provenance import source_state

pytest_plugins = ["pipeline.design.pytest_verifies", "pytester"]


@pytest.fixture(scope="session", autouse=True)
def _source_commit(record_testsuite_property) -> None:
    record_testsuite_property("source_commit", source_state(Path(__file__).resolve().parents[1]))
