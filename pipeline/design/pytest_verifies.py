"""pytest plugin: ``@pytest.mark.verifies("SRS-...")`` links tests to software requirements.

Registered from ``tests/conftest.py``. It registers the marker, fails the run at collection
when a test names an ID that is not a software requirement in ``requirements/software/``,
and records each ID as a ``verifies`` property of the test case so ``--junitxml`` reports
carry them (``<property name="verifies" value="SRS-..."/>``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.design.load import requirement_ids
from pipeline.errors import UserError

MARKER = "verifies"
PROPERTY = "verifies"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--requirements-root``: the repository whose requirements/ defines valid IDs."""
    parser.addoption("--requirements-root", default=None,
                     help="repository root holding requirements/software/ (default: rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (``--strict-markers`` needs it) and load the known IDs."""
    config.addinivalue_line("markers", f"{MARKER}(*ids): the requirement IDs this test verifies")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Reject unknown IDs (one line per test and ID) and attach the IDs as properties."""
    known = _known_ids(config)
    problems = []
    for item in items:
        if any(not mark.args for mark in item.iter_markers(MARKER)):
            problems.append(f"{item.nodeid}: @pytest.mark.{MARKER} names no requirement ID")
        for requirement in marker_ids(item):
            if requirement not in known:
                problems.append(f"{item.nodeid}: unknown requirement ID {requirement!r} in "
                                f"@pytest.mark.{MARKER}")
            else:
                item.user_properties.append((PROPERTY, requirement))
    if problems:
        raise pytest.UsageError(
            "tests name requirement IDs that are not defined in requirements/software/:\n  "
            + "\n  ".join(problems))


def marker_ids(item: pytest.Item) -> list[str]:
    """The IDs of every ``verifies`` marker on a test (function, class and module), deduplicated.

    Args:
        item: a collected test.
    """
    found: list[str] = []
    for mark in item.iter_markers(MARKER):
        for value in mark.args:
            ids = [value] if isinstance(value, str) else list(value)
            found += [str(v) for v in ids if str(v) not in found]
    return found


def _known_ids(config: pytest.Config) -> set[str]:
    root = Path(config.getoption("--requirements-root") or config.rootpath)
    try:
        return requirement_ids(root)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
