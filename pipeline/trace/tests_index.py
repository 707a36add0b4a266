"""Tests as verification records: declared ``verifies`` markers (source) joined with results.

A test node is one test function (parametrised cases are aggregated). Its key is
``<dotted module>[.<Class>]::<function>``, the form junit's ``classname`` and ``name`` give.
Declared links come from the source (so a requirement whose tests were never run shows as
"missing", not as "unverified") and from the ``verifies`` properties in ``reports/junit.xml``.
"""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.design.pytest_verifies import MARKER, PROPERTY

SOURCE_PROPERTY = "source_commit"  # recorded for the whole session by tests/conftest.py
from pipeline.core.errors import UserError


@dataclass
class TestRecord:
    """One test function, the requirements it verifies and its aggregated outcome."""

    key: str
    source: str = ""
    requirements: list[str] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)  # case -> seconds (junit ``time``)

    @property
    def seconds(self) -> float | None:
        """The summed duration of its cases in the report, ``None`` without a result."""
        return round(sum(self.durations.values()), 3) if self.durations else None

    @property
    def status(self) -> str:
        """``failed`` | ``passed`` | ``skipped`` (all cases skipped) | ``missing`` (no result)."""
        outcomes = set(self.cases.values())
        if not outcomes:
            return "missing"
        if outcomes & {"failed", "error"}:
            return "failed"
        return "passed" if "passed" in outcomes else "skipped"


def scan_markers(root: Path, tests_dir: str = "tests") -> dict[str, TestRecord]:
    """Test functions under ``root/tests_dir`` and the IDs their ``verifies`` markers name.

    Args:
        root: the repository root (module names are relative to it).
        tests_dir: the folder holding the tests.
    """
    records: dict[str, TestRecord] = {}
    for path in sorted((Path(root) / tests_dir).rglob("test_*.py")):
        rel = path.relative_to(root)
        try:
            tree = ast.parse(path.read_text(), filename=str(rel))
        except SyntaxError as exc:
            raise UserError(f"{rel} is not valid Python: {exc}") from None
        module = ".".join(rel.with_suffix("").parts)
        module_ids = _pytestmark_ids(tree.body)
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_ids = module_ids + _decorator_ids(node) + _pytestmark_ids(node.body)
                for sub in node.body:
                    _add(records, f"{module}.{node.name}", sub, class_ids, str(rel))
            else:
                _add(records, module, node, module_ids, str(rel))
    return records


def junit_source(junit: Path) -> str | None:
    """The ``source_commit`` the test session recorded in the report (``tests/conftest.py``), or None."""
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError as exc:
        raise UserError(f"{junit} is not valid XML: {exc}") from None
    for prop in root.iter("property"):
        if prop.get("name") == SOURCE_PROPERTY:
            return prop.get("value")
    return None


def merge_junit(records: dict[str, TestRecord], junit: Path) -> None:
    """Add the outcomes (and any ``verifies`` properties) of ``junit`` to ``records``.

    Args:
        records: from ``scan_markers``; tests only found in the report are added.
        junit: a pytest ``--junitxml`` report.
    """
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError as exc:
        raise UserError(f"{junit} is not valid XML: {exc}") from None
    for case in root.iter("testcase"):
        name = case.get("name", "")
        key = f"{case.get('classname', '')}::{name.split('[', 1)[0]}"
        record = records.setdefault(key, TestRecord(key))
        record.cases[name] = _outcome(case)
        try:
            record.durations[name] = float(case.get("time", ""))
        except ValueError:
            pass
        for prop in case.iter("property"):
            value = prop.get("value", "")
            if prop.get("name") == PROPERTY and value not in record.requirements:
                record.requirements.append(value)


def _add(records: dict[str, TestRecord], prefix: str, node: ast.AST, inherited: list[str],
         source: str) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
        ids = list(dict.fromkeys(inherited + _decorator_ids(node)))
        records[f"{prefix}::{node.name}"] = TestRecord(f"{prefix}::{node.name}", source, ids)


def _decorator_ids(node: ast.AST) -> list[str]:
    return [i for dec in getattr(node, "decorator_list", []) for i in _mark_ids(dec)]


def _pytestmark_ids(body: list[ast.stmt]) -> list[str]:
    ids: list[str] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            values = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) else [stmt.value]
            ids += [i for value in values for i in _mark_ids(value)]
    return ids


def _mark_ids(node: ast.AST) -> list[str]:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == MARKER):
        return []
    ids = []
    for arg in node.args:
        elts = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
        ids += [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return ids


def _outcome(case: ET.Element) -> str:
    for tag in ("failure", "error"):
        if case.find(tag) is not None:
            return "failed" if tag == "failure" else "error"
    return "skipped" if case.find("skipped") is not None else "passed"
