"""What a stage runs is what it depends on: each stage's ``dvc.yaml`` deps cover every module of
the package its command imports, directly or through other modules, at any depth (SRS-PLAT-002).

Imports are read from the source (every ``import`` statement, also inside functions, where the
stage commands import their cores lazily); a module is covered by a dep naming its file or a
folder above it. Not followed: the command dispatcher (``pipeline/cli.py`` imports every stage's
command module only to register its parser) and the params schema's fan-out
(``pipeline/params.py`` imports every section's model to validate the whole file, which
``make repro`` does before DVC runs; a stage's own section model is imported by its own code).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pipeline.core.dvc_yaml import read_pipeline

ROOT = Path(__file__).resolve().parents[2]
NOT_FOLLOWED = {"pipeline.cli", "pipeline.params"}


def module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(name: str) -> set[str]:
    """The ``pipeline`` modules one module imports (packages on the way included)."""
    tree = ast.parse(module_file(name).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for full in names:
            parts = full.split(".")
            if parts[0] != "pipeline":
                continue
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if module_file(prefix):
                    found.add(prefix)
    return found


def closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in NOT_FOLLOWED:
            todo.extend(imports_of(name) - seen)
    return seen


def stages() -> dict[str, dict]:
    return read_pipeline(ROOT / "dvc.yaml")["stages"]


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.verifies("SRS-PLAT-002")
@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_cover_every_module_its_command_imports(name):
    stage = stages()[name]
    command = stage["cmd"].split()
    assert command[:3] == ["python", "-m", "pipeline"], stage["cmd"]
    deps = [d for d in stage.get("deps", []) if isinstance(d, str)]
    modules = closure(f"pipeline.{command[3]}.cli")
    missing = sorted(module_file(m).relative_to(ROOT).as_posix() for m in modules
                     if not covered(module_file(m), deps))
    assert not missing, f"stage {name} runs code its dvc.yaml deps do not name: {missing}"


@pytest.mark.verifies("SRS-PLAT-002")
def test_the_import_reader_follows_lazy_imports_and_packages():
    found = closure("pipeline.compress.cli")
    assert {"pipeline.compress.stage", "pipeline.runtime.engines", "pipeline.runtime", "pipeline"} <= found
    assert "pipeline.deid.batch" not in found  # another stage's internals are not pulled in
