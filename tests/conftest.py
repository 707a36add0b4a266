"""Project-wide pytest set-up: the requirement-marker plugin (and pytester for its tests), and the
source commit written into the test report.

The trace gates compare the report's ``source_commit`` with the commit a release is rendered
from, so a release never cites tests that ran on other (or uncommitted) sources.
"""

from pathlib import Path

import pytest

from pipeline.core.provenance import source_state

pytest_plugins = ["pipeline.design.pytest_verifies", "pytester"]


def pytest_sessionstart(session) -> None:
    """The source commit, as a property of the junit report's test suite.

    Written by the process that writes the report: under pytest-xdist that is the controller,
    where no test (and so no ``record_testsuite_property`` fixture) runs, hence this hook and the
    report object pytest keeps for it (pytest is pinned, see pyproject.toml)."""
    from _pytest.junitxml import xml_key

    xml = session.config.stash.get(xml_key, None)
    if xml is not None and not hasattr(session.config, "workerinput"):
        xml.add_global_property("source_commit", source_state(Path(__file__).resolve().parents[1]))



@pytest.fixture(autouse=True)
def _use_log_in_temp(tmp_path_factory, monkeypatch) -> None:
    """``predict`` appends to a use log (``pipeline.monitoring``): in tests it lives in pytest's
    temporary folder, never in the home folder's default (subprocesses inherit the variable)."""
    monkeypatch.setenv("PIPELINE_USE_LOG", str(tmp_path_factory.getbasetemp() / "use_log.jsonl"))
