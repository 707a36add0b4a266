"""Labeling and identity the auditor found inconsistent (issue 19 items 2, 6, 8): the model version
beside the software version, the training-case count, the all-cases row of a subgroup criterion,
per-subgroup performance with intervals, reading the explanations, SBOM component hashes."""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
import textwrap
from pathlib import Path

import pytest

from pipeline.design.items import AcceptanceCriterion, Subgroup
from pipeline.techfile import component_hashes, performance, stage
from tests.techfile.fixture import MODEL_VERSION, ONNX_BYTES, PARAMS
from tests.paths import PATHS

REPO = Path(__file__).resolve().parents[2]


def _html(root: Path) -> str:
    return (root / PATHS.techfile / stage.HTML_NAME).read_text()


def _text(fragment: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


def _by_id(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return _text(html[start:html.index("</t", start)])


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-007")
def test_the_model_version_is_read_from_the_onnx_file_and_named_apart_from_the_software_version(good_run):
    root, _, _ = good_run
    html = _html(root)
    software = re.search(r'^version = "([^"]+)"', (root / "pyproject.toml").read_text(), re.M).group(1)
    assert software != MODEL_VERSION
    cover = _text(html[html.index('id="cover-versions"'):html.index("</p>", html.index('id="cover-versions"'))])
    assert f"Device software version {software}" in cover and f"teacher model version {MODEL_VERSION}" in cover
    card = html[html.index('<section id="fda-labeling">'):]
    model_row = _text(card[card.index("<th class=\"m\">model</th>"):card.index("</tr>", card.index("<th class=\"m\">model</th>"))])
    assert f"model version {MODEL_VERSION}" in model_row and f"software version {software}" in model_row
    assert f"{PARAMS.product_name} {software};" not in model_row  # the model is not called by the software version


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-007")
def test_the_model_card_counts_training_cases_not_the_whole_cohort(good_run):
    root, _, _ = good_run
    splits = json.loads((root / "data/splits.json").read_text())
    fingerprint = json.loads((root / "metrics/fingerprint.json").read_text())
    assert splits["counts"]["train"]["cases"] != fingerprint["all"]["cases"]
    row = _by_id(_html(root), "card-training-data")
    assert row.startswith(f'id="card-training-data"> {splits["counts"]["train"]["cases"]} training cases of '
                          f'{splits["counts"]["train"]["patients"]} patients')
    assert f"{splits['counts']['val']['cases']} validation cases" in row
    assert "locked test split (1 cases)" in row


@pytest.mark.verifies("SRS-DOC-007", "SRS-VNV-003")
def test_the_all_row_of_a_subgroup_criterion_is_the_overall_estimate_not_the_worst_subgroup():
    crit = AcceptanceCriterion(id="VAL-010", title="Dice per site", requirements=["SRS-VNV-003"],
                               models=["teacher"], split="test", metric="dice", statistic="point",
                               comparison=">=", threshold=0.8, subgroup=Subgroup(by="site", min_size=3))
    worst = {"value": 0.79, "status": "FAIL", "n_cases": 4, "reason": "point 0.79 >= 0.8 not met",
             "estimate": {"mean": 0.79, "ci_lower": 0.70, "ci_upper": 0.85, "n": 4}}
    best = {**worst, "value": 0.86, "status": "PASS", "estimate": {"mean": 0.86, "ci_lower": 0.8, "ci_upper": 0.9}}
    vnv = {"criteria": {"VAL-010": {"status": "FAIL", "models": {"teacher": {
               "value": 0.79, "status": "FAIL", "subgroups": {"A": worst, "B": best}}}}},
           "summary": {"teacher": {"dice": {"mean": 0.834, "ci_lower": 0.80, "ci_upper": 0.87, "n": 14}}}}
    rows = performance.criterion_rows([crit], vnv)
    assert [(r["group"], r["level"]) for r in rows] == [("all", None), ("site", "A"), ("site", "B")]
    assert rows[0]["value"] == 0.834 and rows[0]["n"] == 14 and rows[0]["status"] is None
    assert rows[1]["value"] == 0.79 and rows[1]["status"] == "FAIL"
    lower = crit.model_copy(update={"statistic": "ci95_lower"})
    assert performance.criterion_rows([lower], vnv)[0]["value"] == 0.80
    assert performance.criterion_rows([crit], {**vnv, "summary": {}})[0]["value"] is None


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-007")
def test_the_rendered_subgroup_criterion_never_shows_the_worst_value_as_all(good_run):
    root, _, _ = good_run
    html = _html(root)
    section = html[html.index('<section id="fda-validation">'):]
    block = _text(section[section.index('href="#VAL-002"'):section.index("</table>", section.index('href="#VAL-002"'))])
    assert "compressed all 4 0.851 0.897 [0.851, 0.932] >= 0.7 judged per subgroup below" in block
    assert "compressed all 1 0.86" not in block and "compressed all 4 0.86 " not in block


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-007")
def test_the_model_card_shows_subgroups_with_intervals_ranges_and_how_to_read_explanations(good_run):
    root, _, _ = good_run
    html = _html(root)
    table = _text(html[html.index('id="card-subgroups"'):html.index("</table>", html.index('id="card-subgroups"'))])
    assert "teacher all test cases 4 0.91 [0.86, 0.94]" in table
    assert "teacher site = site-a (synthetic site) 3 0.923 [0.871, 0.951] 0.944 [0.902, 0.977]" in table
    assert "voxel spacing 0.8 × 0.8 × 2 to 1.2 × 1.2 × 3 mm" in _by_id(html, "card-acquisition")
    explain = _by_id(html, "card-explanations")
    assert "one row per axial slice" in explain and "not a second segmentation" in explain
    assert "case-best.png: " in explain


@pytest.mark.slow
@pytest.mark.verifies("SRS-DOC-009")
def test_every_sbom_component_carries_a_sha256_with_its_basis_and_models_are_components(good_run):
    root, _, _ = good_run
    doc = json.loads((root / PATHS.techfile / stage.SBOM_NAME).read_text())
    libraries = [c for c in doc["components"] if c["type"] == "library"]
    assert libraries and all(c.get("hashes") for c in libraries)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h["content"]) and h["alg"] == "SHA-256"
               for c in libraries for h in c["hashes"])
    bases = {p["value"] for c in libraries for p in c["properties"] if p["name"] == "pipeline:hash_basis"}
    assert bases == {component_hashes.BASIS_TEXT[component_hashes.RECORD]}  # this lock pins no --hash
    models = [c for c in doc["components"] if c["type"] == "machine-learning-model"]
    assert [(m["version"], m["hashes"][0]["content"]) for m in models] == [
        (MODEL_VERSION, hashlib.sha256(ONNX_BYTES).hexdigest())]
    assert "SBOM: " in _html(root) and f"{len(doc['components'])} of {len(doc['components'])} components carry a SHA-256" in _html(root)


@pytest.mark.verifies("SRS-DOC-009")
def test_lock_hashes_are_used_where_the_lock_pins_them(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(textwrap.dedent("""\
        # a lock with hashes (uv pip compile --generate-hashes)
        packaging==26.3 \\
            --hash=sha256:""" + "a" * 64 + """ \\
            --hash=sha256:""" + "B" * 64 + """
        jinja2==3.1.6
        """))
    assert component_hashes.lock_hashes(lock) == {"packaging": ["a" * 64, "b" * 64]}
    rows = [{"name": "packaging", "version": "26.3"}, {"name": "Jinja2", "version": "3.1.6"}]
    found = component_hashes.component_hashes(lock, rows)
    assert found["packaging"] == {"basis": "lock", "sha256": ["a" * 64, "b" * 64]}
    assert found["jinja2"]["basis"] == "installed-record" and len(found["jinja2"]["sha256"][0]) == 64


@pytest.mark.verifies("SRS-DOC-009")
def test_the_record_digest_ignores_what_the_installer_writes():
    wheel = ("pkg/__init__.py,sha256=AAA,10\npkg-1.0.dist-info/METADATA,sha256=BBB,20\n"
             "pkg-1.0.dist-info/RECORD,,\n")
    installed = wheel + ("pkg-1.0.dist-info/INSTALLER,sha256=CCC,4\npkg-1.0.dist-info/REQUESTED,sha256=DDD,0\n"
                         "pkg/__pycache__/__init__.cpython-311.pyc,,\n../../../bin/pkg,sha256=EEE,200\n")
    assert component_hashes.record_digest(installed) == component_hashes.record_digest(wheel)
    assert component_hashes.record_digest(wheel.replace("AAA", "AAB")) != component_hashes.record_digest(wheel)
