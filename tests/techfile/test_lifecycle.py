"""IEC 62304 life-cycle records generated from the shipped code (issue 19 item 4): detailed design,
unit acceptance, integration, architecture verification, SOUP platforms, processes as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.core.errors import UserError
from pipeline.core.provenance import file_sha256
from pipeline.techfile import lifecycle, shipped_code, stage
from pipeline.trace.graph import TracePaths, build_trace
from tests.techfile.fixture import PARAMS
from tests.paths import PATHS

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("iec-predict", "iec-soup-platform", "iec-arch-verification", "iec-detailed-design", "iec-units",
            "iec-integration", "iec-maintenance", "iec-problems", "iec-change-control")


@pytest.mark.verifies("SRS-DOC-008")
def test_the_detailed_design_is_the_import_closure_of_predict_read_from_its_source():
    units = {u.module: u for u in shipped_code.shipped_units(REPO, ["pipeline.predict.cli"])}
    assert {"pipeline.predict.run", "pipeline.runtime.sliding", "pipeline.runtime.model",
            "pipeline.predict.lesions", "pipeline.core.errors"} <= set(units)
    assert not any(m.startswith(("pipeline.train", "pipeline.verify", "pipeline.techfile")) for m in units)
    run = units["pipeline.predict.run"]
    assert run.sha256 == file_sha256(REPO / run.path) and run.purpose
    assert "pipeline.runtime.model" in units["pipeline.runtime.sliding"].uses or \
        "pipeline.runtime.sliding" in run.uses or "pipeline.runtime.model" in run.uses
    assert any(a["name"] == "predict_volume" and a["signature"].startswith("predict_volume(") and
               a["doc"] for a in units["pipeline.runtime.sliding"].api)
    assert "onnxruntime" in units["pipeline.runtime.engines"].soup
    assert units["pipeline.predict.cli"].level > units["pipeline.predict.run"].level > units["pipeline.core.errors"].level
    args = {a["names"][0]: a for a in shipped_code.cli_arguments(REPO, "pipeline.predict.cli")}
    assert {"model", "input", "output", "--outside-intended-use", "--report"} <= set(args)
    assert args["model"]["required"] and not args["--report"]["required"]


@pytest.mark.verifies("SRS-DOC-008")
def test_unit_acceptance_is_evaluated_from_the_source_and_the_test_report(tmp_path):
    pkg = tmp_path / "pipeline"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""The package."""\n')
    (pkg / "good.py").write_text('"""Adds."""\n\n\ndef add(a, b):\n    """Sum."""\n    return a + b\n')
    (pkg / "bad.py").write_text("from pipeline import good\n\n\ndef use(x):\n    return good.add(x, 1)\n"
                                + "\n" * 40)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_good.py").write_text("from pipeline.good import add\n\n\ndef test_add():\n"
                                                 "    assert add(1, 2) == 3\n")
    units = shipped_code.shipped_units(tmp_path, ["pipeline.bad"])
    assert [u.module for u in units] == ["pipeline", "pipeline.bad", "pipeline.good"]

    class Record:
        key, status = "tests.test_good::test_add", "passed"

    shipped_code.attach_tests(tmp_path, units, {Record.key: Record()})
    rows = {r["unit"].module: r for r in shipped_code.acceptance(units, {"max_lines": 30})}
    assert rows["pipeline.good"]["accepted"]
    bad = rows["pipeline.bad"]["checks"]
    assert not bad["UA-1"][0] and bad["UA-2"] == (False, "undocumented: use")
    assert bad["UA-3"] == (False, "45 lines") and bad["UA-4"] == (False, "0 test module(s)")
    Record.status = "failed"
    for unit in units:
        unit.tests.clear()
    shipped_code.attach_tests(tmp_path, units, {Record.key: Record()})
    rows = {r["unit"].module: r for r in shipped_code.acceptance(units, {"max_lines": 30})}
    assert rows["pipeline.good"]["checks"]["UA-5"] == (False, "not passed: tests.test_good")


@pytest.mark.verifies("SRS-DOC-008")
def test_architecture_verification_names_shipped_units_in_stage_packages_and_uncovered_sources():
    trace = build_trace(TracePaths.of(REPO, PATHS))
    units = shipped_code.shipped_units(REPO, ["pipeline.predict.cli"])
    checks = {c["id"]: c for c in lifecycle.architecture_checks(trace, [], units, [])}
    assert checks["AV-1"]["status"] == "passed" and "no cycle" in checks["AV-1"]["detail"]
    in_stages = shipped_code.stage_modules(units, list(trace.stages))
    assert (checks["AV-4"]["status"] == "passed") == (not in_stages)
    for module in in_stages:
        assert module in checks["AV-4"]["detail"]
    deps = trace.stages["techfile"].deps
    uncovered = [u.path for u in units if not any(u.path == d or u.path.startswith(d.rstrip("/") + "/") for d in deps)]
    assert (checks["AV-5"]["status"] == "passed") == (not uncovered)
    assert checks["AV-6"]["status"] == "failed"  # nothing is pinned in an empty SOUP list


@pytest.mark.verifies("SRS-DOC-008")
def test_soup_platforms_come_from_the_installed_wheel_tags():
    rows = [{"name": "onnxruntime", "version": "x"}, {"name": "packaging", "version": "y"}]
    found = lifecycle.soup_platforms(rows, python="3.11.7")
    assert [s["name"] for s in found["specific"]] == ["onnxruntime"] and found["pure"] == 1
    assert found["arches"] and found["python_refused_by"] == []
    assert any("onnxruntime" in r for r in lifecycle.soup_platforms(rows, python="2.7.18")["python_refused_by"])


@pytest.mark.verifies("SRS-DOC-008")
def test_a_process_step_naming_an_unknown_file_or_open_item_fails_the_render(tmp_path):
    data = lifecycle.load()
    step = data.processes[0].steps[0].model_copy(update={"implemented_by": ["pipeline/no_such_file.py"]})
    broken = data.model_copy(update={"processes": [data.processes[0].model_copy(update={"steps": [step]})]})
    trace = build_trace(TracePaths.of(REPO, PATHS))
    with pytest.raises(UserError, match="no_such_file.py"):
        lifecycle.view(broken, REPO, trace, [], [], {"pms": "", "fda-pccp": ""}, {"OPEN-06": 1, "OPEN-14": 1}, [])
    step = step.model_copy(update={"implemented_by": [], "open": ["OPEN-99"]})
    broken = data.model_copy(update={"processes": [data.processes[0].model_copy(update={"steps": [step]})]})
    with pytest.raises(UserError, match="OPEN-99"):
        lifecycle.view(broken, REPO, trace, [], [], {"pms": "", "fda-pccp": ""}, {"OPEN-06": 1}, [])


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-008", "SRS-DOC-006")
def test_the_book_holds_the_life_cycle_sections_and_counts_their_open_items(good_run):
    root, _, _ = good_run
    html = (root / PATHS.techfile / stage.HTML_NAME).read_text()
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in html, anchor
    design = html[html.index('<section id="iec-detailed-design">'):]
    design = design[:design.index("</section>")]
    sha = file_sha256(REPO / "pipeline/predict/run.py")
    assert "pipeline.predict.run" in design and sha in design
    problems = html[html.index('<section id="iec-problems">'):]
    assert 'href="#OPEN-14"' in problems[:problems.index("</section>")]
    opened = html[html.index('<section id="open-items">'):]
    block = opened[opened.index('id="OPEN-14"'):]
    assert "IEC 62304" in block[:block.index("</table>")]
    assert 'id="OPEN-15"' not in opened  # SOUP vulnerability monitoring is done: soup audit (SRS-MON-004)
    cover = html[html.index('<section id="cover"'):html.index('<section id="toc">')]
    assert 'href="#OPEN-14"' in cover
    scope = re.sub(r"<[^>]+>", "", html[html.index('id="plan-scope"'):html.index("</p>", html.index('id="plan-scope"'))])
    assert "fixture scope" not in scope and "predict" in scope and PARAMS.product_name in scope
    clauses = html[html.index('<section id="clause-coverage">'):]
    for anchor in ("iec-detailed-design", "iec-units", "iec-integration", "iec-problems", "iec-change-control"):
        assert f'href="#{anchor}"' in clauses
