"""Pieces of the technical file: SOUP list and SBOM, architecture, strict templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import UserError
from pipeline.techfile import architecture, render, sbom, soup
from pipeline.trace.stages import Stage

REPO = Path(__file__).resolve().parents[2]


def _stage(name: str, deps: list[str], outs: list[str]) -> Stage:
    return Stage(name=name, desc=name, cmd="", deps=deps, outs=outs, requirements=["SRS-DOC-001"],
                 risks=[])


@pytest.mark.verifies("SRS-DOC-002", "SRS-PLAT-004")
def test_soup_list_and_sbom_cover_every_locked_package():
    rows = soup.soup_list(REPO / "requirements.lock", REPO / "pyproject.toml", soup.load_purposes())
    pins = soup.read_lock(REPO / "requirements.lock")
    assert [r["name"] for r in rows] == sorted(pins, key=lambda n: n.lower().replace("_", "-"))
    direct = [r for r in rows if r["direct"]]
    assert {r["name"].lower() for r in direct} >= {"torch", "monai", "onnxruntime", "weasyprint"}
    assert all(r["purpose"] and r["srs"] and r["anomaly_list"] for r in direct)
    torch = next(r for r in rows if r["name"] == "torch")
    assert torch["version"] == pins["torch"] and torch["licence"]
    doc = sbom.build_sbom({"name": "p", "version": "1", "manufacturer": "m"}, rows, "c" * 40,
                          "2026-01-01T00:00:00+00:00", "0" * 64)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert len(doc["components"]) == len(pins)
    assert doc == sbom.build_sbom({"name": "p", "version": "1", "manufacturer": "m"}, rows,
                                  "c" * 40, "2026-01-01T00:00:00+00:00", "0" * 64)
    refs = {c["bom-ref"] for c in doc["components"]}
    assert all(set(d["dependsOn"]) <= refs for d in doc["dependencies"])


@pytest.mark.verifies("SRS-DOC-002")
def test_soup_without_purpose_for_a_direct_dependency_fails():
    purposes = soup.load_purposes()
    purposes.pop("monai")
    with pytest.raises(UserError, match="no purpose for direct dependencies: monai"):
        soup.soup_list(REPO / "requirements.lock", REPO / "pyproject.toml", purposes)


@pytest.mark.verifies("SRS-DOC-002")
def test_architecture_follows_data_flow():
    stages = {"a": _stage("a", [], ["data/a"]), "b": _stage("b", ["data/a/x.json"], ["data/b"]),
              "c": _stage("c", ["data/a", "data/b"], ["out"])}
    edges = architecture.data_flow(stages)
    assert edges == [("a", "b", "data/a/x.json"), ("a", "c", "data/a"), ("b", "c", "data/b")]
    assert architecture.layers(stages, edges) == {"a": 0, "b": 1, "c": 2}
    drawing = architecture.svg(stages, edges)
    assert drawing.startswith("<svg") and drawing.count("<rect") == 3 and drawing.count("<line") == 3


@pytest.mark.verifies("SRS-DOC-001")
def test_template_value_missing_from_context_fails(tmp_path):
    (tmp_path / "book.html.j2").write_text("<p>{{ train.best_val_dice }}</p>")
    with pytest.raises(UserError, match="best_val_dice"):
        render.render_html({"train": {}}, templates=tmp_path)


@pytest.mark.verifies("SRS-DOC-001")
def test_template_escapes_recorded_text(tmp_path):
    (tmp_path / "book.html.j2").write_text("<p>{{ text }}</p>")
    assert render.render_html({"text": "<script>x</script>"}, templates=tmp_path) == \
        "<p>&lt;script&gt;x&lt;/script&gt;</p>"


@pytest.mark.verifies("SRS-PLAT-004")
def test_soup_list_rejects_an_environment_that_differs_from_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# pins\nnumpy==0.0.1\n")
    with pytest.raises(UserError, match="numpy .* is installed but .* pins 0.0.1: run make setup"):
        soup.soup_list(lock, REPO / "pyproject.toml", soup.load_purposes())


@pytest.mark.verifies("SRS-DOC-001")
def test_training_curve_is_drawn_from_the_recorded_csv(tmp_path):
    from pipeline.techfile import plots

    csv = tmp_path / "curve.csv"
    csv.write_text("epoch,train_loss,val_dice\n1,0.9,\n2,0.5,0.7\n3,0.3,0.8\n")
    curve = plots.read_curve(csv, ("epoch", "train_loss", "val_dice"))
    drawing = plots.line_chart(curve["epoch"], {"loss": curve["train_loss"],
                                                "dice": curve["val_dice"]}, "t")
    assert drawing.count("<polyline") == 2 and "dice: 0.7 .. 0.8" in drawing
    with pytest.raises(UserError, match="has no column lr"):
        plots.read_curve(csv, ("epoch", "val_dice", "lr"))


@pytest.mark.verifies("SRS-DOC-001")
def test_flatten_shows_recorded_values_and_summarises_per_case_lists():
    from pipeline.techfile.inputs import flatten

    data = {"b": {"x": 0.123456, "ok": True}, "a": [1, 2], "cases": [{"d": 1}] * 5,
            "candidates": [{"name": "s", "dice": None}], "empty": None}
    assert flatten(data) == [("a", "1, 2"), ("b.ok", "yes"), ("b.x", "0.1235"),
                             ("candidates[0].dice", "n/a"), ("candidates[0].name", "s"),
                             ("cases", "5 entries (in the recorded file)"), ("empty", "n/a")]
