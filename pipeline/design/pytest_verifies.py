"""pytest plugin: ``@pytest.mark.verifies("SRS-...")`` links tests to software requirements.

Registered from ``tests/conftest.py``. It registers the marker; a test that names an ID which
is not a software requirement in ``requirements/software/`` (or names none) is a collection
error of its module, naming the test and the ID, so the run fails; and each ID is recorded as
a ``verifies`` property of the test case, so ``--junitxml`` reports carry them
(``<property name="verifies" value="SRS-..."/>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.design.load import requirement_ids
from pipeline.core.errors import UserError

MARKER = "verifies"
PROPERTY = "verifies"
KNOWN_IDS = pytest.StashKey[set]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--requirements-root``: the repository whose requirements/ defines valid IDs."""
    parser.addoption("--requirements-root", default=None,
                     help="repository root holding requirements/software/ (default: rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (``--strict-markers`` needs it)."""
    config.addinivalue_line("markers", f"{MARKER}(*ids): the requirement IDs this test verifies")


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> Any:
    """Turn a test with an unknown or missing requirement ID into a collection error."""
    result = yield
    items = result if isinstance(result, list) else [result]
    problems = [line for item in items if isinstance(item, pytest.Item)
                for line in marker_problems(item, _known_ids(collector.config))]
    if problems:
        raise collector.CollectError(
            "tests name requirement IDs that are not defined in requirements/software/:\n  "
            + "\n  ".join(problems))
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Attach every requirement ID as a ``verifies`` property (written to junit.xml)."""
    for item in items:
        for requirement in marker_ids(item):
            item.user_properties.append((PROPERTY, requirement))


def marker_problems(item: pytest.Item, known: set[str]) -> list[str]:
    """One line per unknown ID (or empty marker) of a test.

    Args:
        item: a collected test.
        known: the valid software requirement IDs.
    """
    problems = [f"{item.nodeid}: @pytest.mark.{MARKER} names no requirement ID"
                for mark in item.iter_markers(MARKER) if not mark.args]
    problems += [f"{item.nodeid}: unknown requirement ID {rid!r} in @pytest.mark.{MARKER}"
                 for rid in marker_ids(item) if rid not in known]
    return problems


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
    if KNOWN_IDS not in config.stash:
        root = Path(config.getoption("--requirements-root") or config.rootpath)
        try:
            config.stash[KNOWN_IDS] = requirement_ids(root)
        except UserError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[KNOWN_IDS]
