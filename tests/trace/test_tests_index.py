"""Tests as verification records: markers read from source, outcomes from junit.xml."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.trace.tests_index import merge_junit, scan_markers

SOURCE = '''import pytest

pytestmark = [pytest.mark.slow, pytest.mark.verifies("SRS-A-001")]


@pytest.mark.verifies("SRS-B-001", "SRS-A-001")
def test_function():
    pass


@pytest.mark.verifies(["SRS-C-001"])
class TestGroup:
    pytestmark = pytest.mark.verifies("SRS-D-001")

    @pytest.mark.parametrize("n", [1, 2])
    def test_method(self, n):
        pass


def helper():
    pass
'''
JUNIT = '''<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.pkg.test_mod.TestGroup" name="test_method[1]"/>
<testcase classname="tests.pkg.test_mod.TestGroup" name="test_method[2]"><failure message="x"/></testcase>
<testcase classname="tests.pkg.test_mod" name="test_function"><skipped message="y"/></testcase>
<testcase classname="tests.pkg.test_other" name="test_new"><properties>
<property name="verifies" value="SRS-E-001"/></properties></testcase>
</testsuite></testsuites>'''


@pytest.fixture
def records(tmp_path: Path):
    """Markers scanned from one test module under ``tmp_path/tests/pkg``."""
    (tmp_path / "tests/pkg").mkdir(parents=True)
    (tmp_path / "tests/pkg/test_mod.py").write_text(SOURCE)
    return scan_markers(tmp_path)


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-006")
def test_markers_on_module_class_and_function_are_found(records) -> None:
    assert {k: v.requirements for k, v in records.items()} == {
        "tests.pkg.test_mod::test_function": ["SRS-A-001", "SRS-B-001"],
        "tests.pkg.test_mod.TestGroup::test_method": ["SRS-A-001", "SRS-C-001", "SRS-D-001"],
    }
    assert all(r.status == "missing" for r in records.values())


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-006")
def test_junit_outcomes_aggregate_per_function(records, tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    merge_junit(records, tmp_path / "junit.xml")
    assert records["tests.pkg.test_mod.TestGroup::test_method"].status == "failed"
    assert records["tests.pkg.test_mod::test_function"].status == "skipped"
    new = records["tests.pkg.test_other::test_new"]
    assert (new.status, new.requirements) == ("passed", ["SRS-E-001"])
