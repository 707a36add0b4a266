"""The static site: one page per item, links both ways, escaping, StrictUndefined, determinism."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import jinja2
import pytest

from pipeline.trace.gates import check
from pipeline.trace.site import TEMPLATES, write_site
from tests import records
from tests.trace.minirepo import MiniRepo, vnv_with

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                       "hKmMIQAAAABJRU5ErkJggg==")


def _render(repo: MiniRepo, out: Path) -> list[str]:
    trace = repo.trace()
    problems = check(trace)
    write_site(trace, problems, out)
    return [p.line() for p in problems]


@pytest.fixture
def repo(tmp_path) -> MiniRepo:
    """A reviewed mini repository with one evidence image."""
    repo = MiniRepo(tmp_path / "repo")
    (repo.root / "evidence").mkdir(parents=True)
    (repo.root / "evidence/case 1.png").write_bytes(PNG)
    repo.vnv["evidence"] = [records.evidence_image("evidence/case 1.png", ("SRS-TST-001",), "Grad-CAM, worst case",
                                                   hashlib.sha256(PNG).hexdigest())]
    return repo.review_all()


@pytest.mark.verifies("SRS-TRACE-004")
def test_every_item_has_a_page_with_links_both_ways(repo: MiniRepo, tmp_path) -> None:
    out = tmp_path / "site"
    assert _render(repo, out) == []
    for page in ("index.html", "risks.html", "stages.html", "verification.html",
                 "problems.html", "URS-001.html", "SRS-TST-001.html", "RC-001.html",
                 "RISK-001.html", "VAL-001.html", "stage-read.html",
                 "test-tests.test_a_test_sorts.html"):
        assert (out / page).is_file(), page
    req = (out / "SRS-TST-001.html").read_text()
    for target in ("URS-001.html", "RC-001.html", "RISK-001.html", "VAL-001.html",
                   "stage-read.html", "test-tests.test_a_test_sorts.html"):
        assert f'href="{target}"' in req
    assert 'href="SRS-TST-001.html"' in (out / "URS-001.html").read_text()
    assert "b1" in (out / "stage-read.html").read_text()  # the artifact hash
    assert "releasable" in (out / "index.html").read_text()


@pytest.mark.verifies("SRS-TRACE-004")
def test_a_risk_page_shows_each_level_by_the_plans_name_and_its_level(repo: MiniRepo,
                                                                      tmp_path) -> None:
    out = tmp_path / "site"
    _render(repo, out)
    risk = (out / "RISK-001.html").read_text()
    for label, value in (("severity", "critical (4)"), ("probability", "probable (4)"),
                         ("residual severity", "critical (4)"),
                         ("residual probability", "improbable (1)")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in risk
    assert "S4 critical x P4 probable: unacceptable" in risk
    assert "S4 critical x P1 improbable: acceptable" in risk
    assert "<dt>kind</dt><dd>safety</dd>" in (out / "SRS-TST-001.html").read_text()
    assert "<dt>kind</dt><dd>inherent_safety</dd>" in (out / "RC-001.html").read_text()


@pytest.mark.verifies("SRS-TRACE-004")
def test_no_external_assets(repo: MiniRepo, tmp_path) -> None:
    out = tmp_path / "site"
    _render(repo, out)
    for page in out.glob("*.html"):
        html = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', html), page.name
        assert "<link " not in html, page.name


@pytest.mark.verifies("SRS-TRACE-004")
def test_evidence_images_are_copied_into_the_site(repo: MiniRepo, tmp_path) -> None:
    out = tmp_path / "site"
    _render(repo, out)
    copied = list((out / "evidence").iterdir())
    assert [p.read_bytes() for p in copied] == [PNG]
    assert f'src="evidence/{copied[0].name}"' in (out / "SRS-TST-001.html").read_text()


@pytest.mark.verifies("SRS-TRACE-004")
def test_design_text_is_escaped(repo: MiniRepo, tmp_path) -> None:
    repo.reqs[0]["title"] = "<script>alert('x')</script>"
    repo.review_all()
    out = tmp_path / "site"
    _render(repo, out)
    for page in ("index.html", "SRS-TST-001.html", "URS-001.html"):
        html = (out / page).read_text()
        assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in (out / "SRS-TST-001.html").read_text()


@pytest.mark.verifies("SRS-TRACE-004", "SRS-VNV-004")
def test_failing_gates_render_as_badges_and_not_releasable(repo: MiniRepo, tmp_path) -> None:
    repo.vnv = vnv_with("FAIL", 0.7, evidence=repo.vnv["evidence"])
    out = tmp_path / "site"
    lines = _render(repo, out)
    assert "failed: VAL-001: FAIL: teacher: point 0.7 >= 0.8 not met" in lines
    index = (out / "index.html").read_text()
    assert "Release status: not releasable" in index
    assert '<span class="badge failed">failed</span>' in (out / "SRS-TST-001.html").read_text()
    summary = json.loads((out / "problems.json").read_text())
    assert summary["release_status"] == "not releasable" and summary["problems"] == lines


@pytest.mark.verifies("SRS-TRACE-004", "SRS-COMP-005")
def test_a_model_that_was_not_released_is_named_on_the_front_page(repo: MiniRepo, tmp_path) -> None:
    repo.vnv["absent_models"] = {"compressed": "release/models/compressed.onnx does not exist"}
    out = tmp_path / "site"
    _render(repo, out)
    assert "<strong>No compressed model is released</strong>: release/models/compressed.onnx does not exist" \
        in (out / "index.html").read_text()
    assert 'id="absent-compressed"' in (out / "verification.html").read_text()


@pytest.mark.verifies("SRS-TRACE-004")
def test_rendering_twice_gives_identical_bytes(repo: MiniRepo, tmp_path) -> None:
    _render(repo, tmp_path / "a")
    _render(repo, tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    for rel in files:
        if (tmp_path / "a" / rel).is_file():
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


@pytest.mark.verifies("SRS-TRACE-004")
def test_a_missing_template_value_fails_the_render(repo: MiniRepo, tmp_path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for source in TEMPLATES.iterdir():
        (templates / source.name).write_text(source.read_text())
    index = templates / "index.html"
    index.write_text(index.read_text().replace("{{ status.release_status }}",
                                               "{{ status.no_such_value }}", 1))
    trace = repo.trace()
    with pytest.raises(jinja2.UndefinedError, match="no_such_value"):
        write_site(trace, check(trace), tmp_path / "site", templates=templates)
    assert not (tmp_path / "site").exists()  # nothing that looks finished


@pytest.mark.verifies("SRS-TRACE-004", "SRS-TRACE-002")
def test_site_command_succeeds_when_gates_fail_and_writes_the_summary(repo: MiniRepo,
                                                                      tmp_path) -> None:
    from pipeline.cli import main

    repo.junit = [("tests.test_a", "test_sorts", "failed")]
    repo.write()
    out, metrics = tmp_path / "site", tmp_path / "trace.json"
    assert main(["trace", "site", str(out), "--metrics", str(metrics), "--no-mlflow",
                 "--root", str(repo.root)]) == 0
    summary = json.loads(metrics.read_text())
    assert summary["release_status"] == "not releasable"
    assert summary["counts"]["problems_failed"] == 1
    assert main(["trace", "check", "--root", str(repo.root)]) == 1


@pytest.mark.slow
@pytest.mark.verifies("SRS-PLAT-003")
def test_the_site_command_is_an_mlflow_run_its_writer_started_before_the_rendering(repo: MiniRepo, tmp_path,
                                                                                    monkeypatch) -> None:
    """The run writer opens the repository's store while the site reads it (``mlflow.db``, created
    by the writer here); the run itself is opened after the rendering, with the counts."""
    import mlflow

    from pipeline.cli import main

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo.write()
    metrics = tmp_path / "trace.json"
    assert main(["trace", "site", str(tmp_path / "site"), "--metrics", str(metrics), "--root", str(repo.root)]) == 0
    client = mlflow.MlflowClient(f"sqlite:///{repo.root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    assert [(r.data.tags["stage"], r.info.status) for r in runs] == [("trace", "FINISHED")]
    summary = json.loads(metrics.read_text())
    assert runs[0].data.tags["release_status"] == summary["release_status"]
    assert runs[0].data.metrics == {k: float(v) for k, v in summary["counts"].items()}


@pytest.fixture
def released(tmp_path) -> Path:
    """A reviewed release (model file, manifest, timed test report) rendered into
    ``release/trace`` beside ``release/models``; the site folder is returned."""
    from tests.trace.minirepo import with_release

    repo = with_release(MiniRepo(tmp_path / "repo")).review_all()
    out = repo.root / "release/trace"
    _render(repo, out)
    return out


@pytest.mark.verifies("SRS-TRACE-004", "SRS-TRACE-005")
def test_a_requirement_page_links_the_released_model_and_manifest_it_implements(released: Path) -> None:
    from tests.trace.minirepo import MODEL_BYTES

    page = (released / "SRS-TST-001.html").read_text()
    assert 'href="../models/teacher.onnx"' in page and 'href="../manifest.json"' in page
    assert hashlib.sha256(MODEL_BYTES).hexdigest() in page
    assert (released / "../models/teacher.onnx").read_bytes() == MODEL_BYTES
    overview = (released / "release.html").read_text()
    assert 'href="../models/teacher.onnx"' in overview and 'href="SRS-TST-001.html"' in overview


@pytest.mark.verifies("SRS-TRACE-005", "SRS-VNV-003")
def test_a_criterion_page_shows_n_the_interval_the_split_and_the_evidence(released: Path) -> None:
    text = _text((released / "VAL-001.html").read_text())
    assert "teacher all 12 0.9 0.9 [0.85, 0.95] point >= 0.8 PASS" in text
    assert "locked test split: 12 cases, content SHA-256 " + "c" * 64 in text
    page = (released / "VAL-001.html").read_text()
    assert 'href="reports/vnv.json"' in page and (released / "reports/vnv.json").is_file()
    assert 'href="../models/teacher.onnx"' in page


@pytest.mark.verifies("SRS-TRACE-004", "SRS-TRACE-005")
def test_a_test_page_shows_outcome_duration_commit_and_links_the_report(released: Path) -> None:
    from tests.trace.minirepo import SOURCE_COMMIT

    page = (released / "test-tests.test_a_test_sorts.html").read_text()
    text = _text(page)
    assert "outcome passed" in text and "duration 1.250 s" in text
    assert f"commit tested {SOURCE_COMMIT}" in text
    assert 'href="reports/junit.xml"' in page
    assert (released / "reports/junit.xml").read_text() == (released / "../../reports/junit.xml").read_text()


@pytest.mark.verifies("SRS-TRACE-004", "SRS-TRACE-005")
def test_user_needs_are_validated_by_criteria_not_verified(tmp_path) -> None:
    from tests.trace.minirepo import with_release

    repo = with_release(MiniRepo(tmp_path / "repo")).review_all()
    repo.needs.append({"id": "URS-002", "kind": "user", "title": "Reviewed by a radiologist",
                       "text": "Every output is reviewed.", "rationale": "users"})
    out = tmp_path / "site"
    _render(repo, out)
    need = _text((out / "URS-001.html").read_text())
    assert "URS-001 validated" in need and "VAL-001" in need and "verified" not in need.split("Validation")[0]
    assert "URS-002 missing no validation criterion" in _text((out / "URS-002.html").read_text())
    repo.vnv["criteria"]["VAL-001"]["status"] = "FAIL"
    _render(repo, out)
    assert "URS-001 failed validation failed" in _text((out / "URS-001.html").read_text())
    index = (out / "index.html").read_text()
    assert '<span class="badge validation-failed">validation failed</span>' in index
    repo.vnv["criteria"]["VAL-001"]["status"] = "NOT APPLICABLE"  # the data cannot answer it: not validated
    _render(repo, out)
    assert "validation pending" in _text((out / "URS-001.html").read_text())


def _text(html: str) -> str:
    html = re.sub(r"<(style|script)>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&").replace("&gt;", ">")
