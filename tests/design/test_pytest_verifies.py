"""The ``verifies`` marker plugin: unknown IDs fail the run, known IDs reach junit.xml."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

REQUIREMENT = """
- id: SRS-TEST-001
  title: A requirement
  kind: functional
  text: The thing works.
  rationale: Because.
  derives_from: [URS-001]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A tiny project with one software requirement, SRS-TEST-001."""
    pytester.mkdir("requirements")
    pytester.mkdir("requirements/software")
    (pytester.path / "requirements/software/test.yaml").write_text(REQUIREMENT)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "pipeline.design.pytest_verifies", "--strict-markers", *args)


@pytest.mark.verifies("SRS-VNV-006")
def test_unknown_id_fails_the_run_naming_test_and_id(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="""
        import pytest

        @pytest.mark.verifies("SRS-TEST-001")
        def test_ok():
            pass

        @pytest.mark.verifies("SRS-NOPE-404")
        def test_bad():
            pass
    """)
    result = _run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_x.py*",
                                 "*test_x.py::test_bad: unknown requirement ID 'SRS-NOPE-404'*",
                                 "*1 error*"])
    assert "test_ok: unknown" not in result.stdout.str()


@pytest.mark.verifies("SRS-VNV-006")
def test_marker_without_ids_fails_the_run(project: pytest.Pytester) -> None:
    project.makepyfile(test_y="""
        import pytest

        @pytest.mark.verifies()
        def test_empty():
            pass
    """)
    result = _run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_y.py::test_empty: @pytest.mark.verifies names no*"])


@pytest.mark.verifies("SRS-VNV-006")
def test_class_level_marker_with_unknown_id_fails(project: pytest.Pytester) -> None:
    project.makepyfile(test_c="""
        import pytest

        @pytest.mark.verifies("SRS-GONE-001")
        class TestThing:
            @pytest.mark.parametrize("n", [1, 2])
            def test_a(self, n):
                pass
    """)
    result = _run(project)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*TestThing::test_a?1?: unknown requirement ID 'SRS-GONE-001'*"])


@pytest.mark.verifies("SRS-VNV-006")
def test_known_ids_are_junit_properties(project: pytest.Pytester) -> None:
    project.makepyfile(test_z="""
        import pytest

        pytestmark = pytest.mark.verifies("SRS-TEST-001")

        def test_ok():
            pass
    """)
    junit = project.path / "junit.xml"
    result = _run(project, f"--junitxml={junit}")
    assert result.ret == pytest.ExitCode.OK
    props = ET.parse(junit).getroot().findall(".//testcase/properties/property")
    assert [(p.get("name"), p.get("value")) for p in props] == [("verifies", "SRS-TEST-001")]
