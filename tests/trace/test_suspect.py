"""Suspect links: fingerprints recorded by ``trace review``, changed items and artifacts."""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.cli import main
from tests import records
from tests.trace.minirepo import OUT_MD5, MiniRepo, vnv_with


@pytest.fixture
def repo(tmp_path) -> MiniRepo:
    """A complete, reviewed mini repository."""
    return MiniRepo(tmp_path).review_all()


def _suspects(repo: MiniRepo) -> list[str]:
    return [p.line() for p in repo.problems() if p.gate == "suspect"]


@pytest.mark.verifies("SRS-TRACE-003")
def test_unreviewed_items_are_suspect(tmp_path) -> None:
    repo = MiniRepo(tmp_path)
    assert ("suspect: SRS-TST-001: never reviewed; review with `python -m pipeline trace "
            "review SRS-TST-001`") in _suspects(repo)


@pytest.mark.verifies("SRS-TRACE-003")
def test_editing_a_parent_marks_the_child_link_suspect_until_reviewed(repo: MiniRepo) -> None:
    repo.needs[0]["text"] = "The device segments lesions and measures their volume."
    assert _suspects(repo) == ["suspect: SRS-TST-001: URS-001 changed since SRS-TST-001 was "
                               "reviewed; review with `python -m pipeline trace review "
                               "SRS-TST-001`"]
    repo.write()
    assert main(["trace", "review", "SRS-TST-001", "--root", str(repo.root)]) == 0
    assert _suspects(repo) == []


@pytest.mark.verifies("SRS-TRACE-003")
def test_editing_a_requirement_after_its_verification_marks_it_and_its_children(
        repo: MiniRepo) -> None:
    repo.reqs[0]["text"] = "Slices are sorted along the normal, then flipped."
    items = {p.item for p in repo.problems() if p.gate == "suspect"}
    # its own verification (tests), the control citing it and that it implements, the criterion,
    # the stage and, upstream, the user need it derives from (SRS-GOV-005: impact both ways)
    assert items == {"SRS-TST-001", "RC-001", "VAL-001", "read", "URS-001"}


@pytest.mark.verifies("SRS-TRACE-003")
def test_a_new_link_is_suspect_until_reviewed(repo: MiniRepo) -> None:
    repo.risks.append(dict(repo.risks[0], id="RISK-002"))
    repo.stages["read"]["meta"]["risks"] = ["RISK-001", "RISK-002"]
    assert ("suspect: read: link to RISK-002 added since the last review; review with "
            "`python -m pipeline trace review read`") in _suspects(repo)


@pytest.mark.verifies("SRS-TRACE-003")
def test_changed_artifact_since_its_evidence_was_produced(repo: MiniRepo) -> None:
    repo.stages["check"] = {"desc": "check", "cmd": "echo", "deps": ["out/read"],
                            "outs": ["out/check"], "meta": {"requirements": ["SRS-TST-001"]}}
    repo.lock["check"] = {"cmd": "echo", "deps": [{"path": "out/read", "md5": "b0"}],
                          "outs": [{"path": "out/check", "md5": "c1"}]}
    repo.review_all()
    assert _suspects(repo) == [f"suspect: check: input out/read is now {OUT_MD5} (stage read) but the "
                               "evidence was produced from b0; run dvc repro"]


@pytest.mark.verifies("SRS-TRACE-003", "SRS-PLAT-003")
def test_mlflow_run_that_used_another_artifact_is_suspect(repo: MiniRepo) -> None:
    with sqlite3.connect(repo.root / "mlflow.db") as con:
        con.executescript(
            "CREATE TABLE runs (run_uuid TEXT, status TEXT, start_time INT, "
            "lifecycle_stage TEXT);"
            "CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);"
            "INSERT INTO runs VALUES ('r1', 'FINISHED', 1, 'active');"
            "INSERT INTO tags VALUES ('stage', 'read', 'r1');"
            "INSERT INTO tags VALUES ('dvc.input.out/read', 'b0', 'r1');")
    assert _suspects(repo) == ["suspect: read: MLflow run r1 used out/read b0, dvc.lock now "
                               f"records {OUT_MD5}; run dvc repro"]


@pytest.mark.verifies("SRS-TRACE-003")
def test_review_of_an_unknown_id_is_a_user_error(repo: MiniRepo, capsys) -> None:
    assert main(["trace", "review", "SRS-NOPE-001", "--root", str(repo.root)]) == 2
    assert "not a reviewable item or stage: SRS-NOPE-001" in capsys.readouterr().err


@pytest.mark.verifies("SRS-TRACE-002")
def test_check_cli_prints_one_line_per_problem_and_exits_non_zero(repo: MiniRepo,
                                                                   capsys) -> None:
    assert main(["trace", "check", "--root", str(repo.root)]) == 0
    repo.reqs[0]["derives_from"] = ["URS-999"]
    repo.write()
    assert main(["trace", "check", "--root", str(repo.root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "unknown-id: SRS-TST-001: links to unknown ID 'URS-999'" in out


@pytest.mark.verifies("SRS-TRACE-003", "SRS-VNV-004")
def test_verify_stage_results_format_and_changed_model_or_evidence(repo: MiniRepo) -> None:
    model = repo.root / "release/models/teacher.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"verified weights")
    png = repo.root / "reports/vnv/explain_worst_c1.png"
    png.parent.mkdir(parents=True)
    png.write_bytes(b"png")
    from pipeline.core.provenance import file_sha256

    repo.vnv = vnv_with("PASS", 0.9, models={"teacher": records.verified_model("release/models/teacher.onnx",
                                                                             file_sha256(model))},
                        evidence=[records.evidence_image(f"reports/vnv/{png.name}", ("SRS-TST-001",),
                                                         sha256=file_sha256(png), dice=0.5)])
    assert repo.lines() == []
    model.write_bytes(b"substituted weights")
    png.write_bytes(b"edited")
    suspects = _suspects(repo)
    assert len(suspects) == 2
    assert suspects[0].startswith("suspect: reports/vnv/explain_worst_c1.png: evidence file "
                                  "changed since metrics/vnv.json recorded it")
    assert suspects[1].startswith("suspect: release/models/teacher.onnx: model teacher changed "
                                  "since it was verified")
