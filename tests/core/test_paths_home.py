"""Each path one stage hands to another has one home: ``params.yaml``'s ``paths``. ``dvc.yaml``
names them only through templating, and no code, benchmark or build file spells one out (string
literals of the code; docstrings and comments may describe the default layout)."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PATHS = yaml.safe_load((ROOT / "params.yaml").read_text())["paths"]
# one-word folder names ("release") are ordinary words in messages: only paths with a separator
CHECKED = {name: value for name, value in PATHS.items() if "/" in value or "." in value}


def _pattern(value: str) -> re.Pattern:
    return re.compile(rf"(?<![\w./-]){re.escape(value)}(?![\w-])")


def _literals(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, without docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.verifies("SRS-PLAT-001")
def test_no_code_spells_out_a_stage_path():
    found = []
    for path in sorted([*(ROOT / "pipeline").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]):
        for line, text in _literals(path):
            found += [f"{path.relative_to(ROOT)}:{line}: {value}" for value in CHECKED.values()
                      if _pattern(value).search(text)]
    assert not found, "paths belong in params.yaml (paths:), read through params.paths:\n" + "\n".join(found)


@pytest.mark.verifies("SRS-PLAT-001")
def test_dvc_yaml_and_build_files_name_paths_only_through_params():
    found = []
    for rel in ("dvc.yaml", "Makefile", ".ci/run"):
        for number, line in enumerate((ROOT / rel).read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [f"{rel}:{number}: {value}" for value in CHECKED.values() if _pattern(value).search(code)]
    assert not found, "\n".join(found)


@pytest.mark.verifies("SRS-PLAT-001", "SRS-TEAM-004")
def test_the_makefile_reads_every_path_as_yaml_does():
    """The Makefile's ``path_of`` (sed over params.yaml) gives the value YAML gives, anchors
    (``raw: &raw data/raw``) included: it decides ``--allow-missing`` and names the test report."""
    shown = " ".join(f"{name}=$(call path_of,{name})" for name in PATHS)
    out = subprocess.run(["make", "--no-print-directory", "-f", "Makefile", "--eval", f"show-paths:;@echo {shown}",
                          "show-paths"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert dict(item.split("=", 1) for item in out) == PATHS
