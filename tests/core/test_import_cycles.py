"""No module of ``pipeline`` imports, directly or through others, a module that imports it back.

A cycle hidden in a function-level import works until the import order changes (the deid
workers once imported the batch runner that started them). Imports are read from the source,
lazy ones included, as the stage-deps test reads them.
"""

from __future__ import annotations

import graphlib

import pytest

from tests.core.test_stage_deps import ROOT, imports_of


@pytest.mark.verifies("SRS-PLAT-002")
def test_no_import_cycles_among_pipeline_modules():
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in (ROOT / "pipeline").rglob("*.py")}
    graph = {name: imports_of(name) - {name} for name in sorted(modules)}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
