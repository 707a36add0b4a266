"""Change impact both ways: upstream to what an edited item links to, downstream from a changed
stage output to the criteria results and explanation evidence produced from the old one."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.cli import main
from pipeline.trace.status import node_flags
from tests import records
from tests.trace.minirepo import OUT_MD5, MiniRepo, vnv_with


@pytest.fixture
def repo(tmp_path) -> MiniRepo:
    return MiniRepo(tmp_path).review_all()


def _suspect_items(repo: MiniRepo) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in repo.problems():
        if p.gate == "suspect":
            out.setdefault(p.item, []).append(p.message)
    return out


@pytest.mark.verifies("SRS-GOV-005", "SRS-TRACE-003")
def test_an_edited_requirement_marks_the_items_it_links_to_until_reviewed(repo: MiniRepo):
    repo.reqs[0]["text"] = "Slices are sorted along the normal, then flipped."
    found = _suspect_items(repo)
    assert any(m.startswith("SRS-TST-001 links to it and changed") for m in found["URS-001"])
    assert any(m.startswith("SRS-TST-001 links to it and changed") for m in found["RC-001"])
    trace = repo.trace()
    from pipeline.trace.gates import check

    flags = node_flags(trace, check(trace))
    assert "suspect" in flags["URS-001"] and "suspect" in flags["RC-001"]
    assert main(["trace", "review", "SRS-TST-001", "--root", str(repo.root)]) == 0
    found = _suspect_items(repo)
    assert "URS-001" not in found and not any("SRS-TST-001 links to it" in m for m in found.get("RC-001", []))


@pytest.mark.verifies("SRS-GOV-005")
def test_an_edited_risk_marks_its_controls(repo: MiniRepo):
    repo.risks[0]["harm"] = "Wrong treatment planning."
    assert any(m.startswith("RISK-001 links to it") for m in _suspect_items(repo)["RC-001"])


@pytest.mark.verifies("SRS-GOV-005", "SRS-TRACE-003")
def test_a_new_model_hash_marks_criteria_results_and_evidence_until_verify_runs_again(repo: MiniRepo):
    png = repo.root / "reports/vnv/explain.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(b"png")
    repo.vnv = vnv_with("PASS", 0.9, evidence=[records.evidence_image(
        "reports/vnv/explain.png", ("SRS-TST-001",), sha256=hashlib.sha256(b"png").hexdigest())])
    repo.stages["verify"] = {"desc": "verify", "cmd": "echo", "deps": ["out/read"],
                             "outs": ["metrics/vnv.json"], "meta": {"requirements": ["SRS-TST-001"]}}
    repo.lock["verify"] = {"cmd": "echo", "deps": [{"path": "out/read", "md5": OUT_MD5}],
                           "outs": [{"path": "metrics/vnv.json", "md5": "unused"}]}
    repo.write()
    repo.lock["verify"]["outs"][0]["md5"] = _md5(repo.root / "metrics/vnv.json")
    repo.review_all()
    assert "VAL-001" not in _suspect_items(repo)
    # the read stage ran again and recorded a new output; verify has not run since
    repo.outputs["out/read"] = b"a new data set\n"
    repo.lock["read"]["outs"][0]["md5"] = _md5_bytes(b"a new data set\n")
    found = _suspect_items(repo)
    assert any(m.startswith("result rests on out/read") and "run dvc repro (stage verify)" in m
               for m in found["VAL-001"])
    assert any(m.startswith("explanation evidence rests on out/read") for m in found["reports/vnv/explain.png"])
    # verify ran again on the new data: its recorded input matches, the results are current
    repo.lock["verify"]["deps"][0]["md5"] = repo.lock["read"]["outs"][0]["md5"]
    found = _suspect_items(repo)
    assert "VAL-001" not in found and "reports/vnv/explain.png" not in found


def _md5(path) -> str:
    return _md5_bytes(path.read_bytes())


def _md5_bytes(content: bytes) -> str:
    import hashlib

    return hashlib.md5(content).hexdigest()
