"""Each gate of ``trace check`` on small hand-made item sets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import records
from tests.trace.minirepo import MiniRepo, vnv_with
from tests.paths import PATHS


@pytest.fixture
def repo(tmp_path) -> MiniRepo:
    """A complete, reviewed mini repository: every gate passes."""
    return MiniRepo(tmp_path).review_all()


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_complete_trace_passes_every_gate(repo: MiniRepo) -> None:
    assert repo.lines() == []


@pytest.mark.verifies("SRS-TRACE-002")
def test_unknown_id_in_a_requirement_and_in_stage_meta(repo: MiniRepo) -> None:
    repo.reqs[0]["derives_from"] = ["URS-999"]
    repo.stages["read"]["meta"]["risks"] = ["RISK-404"]
    lines = repo.lines()
    assert "unknown-id: SRS-TST-001: links to unknown ID 'URS-999'" in lines
    assert "unknown-id: read: links to unknown ID 'RISK-404'" in lines


@pytest.mark.verifies("SRS-TRACE-002")
def test_link_to_the_wrong_kind_is_an_unknown_id(repo: MiniRepo) -> None:
    repo.risks[0]["controls"] = ["RC-001", "SRS-TST-001"]
    assert any(line.startswith("unknown-id: RISK-001: links to SRS-TST-001 (requirement)")
               for line in repo.lines())


@pytest.mark.verifies("SRS-TRACE-002")
def test_cycle_between_requirements(repo: MiniRepo) -> None:
    repo.reqs[0]["derives_from"] = ["URS-001", "SRS-TST-002"]
    repo.reqs.append(dict(repo.reqs[0], id="SRS-TST-002", derives_from=["SRS-TST-001"],
                          implements=[]))
    cycles = [p for p in repo.problems() if p.gate == "cycle"]
    assert len(cycles) == 1
    assert {"SRS-TST-001", "SRS-TST-002"} <= {cycles[0].item, *cycles[0].related}


@pytest.mark.verifies("SRS-TRACE-002")
def test_requirement_without_verification(repo: MiniRepo) -> None:
    repo.reqs.append(dict(repo.reqs[0], id="SRS-TST-002", implements=[]))
    repo.review_all()
    assert repo.lines() == ["unverified: SRS-TST-002: no test or acceptance criterion verifies it"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_only_skipped_tests_do_not_verify(repo: MiniRepo) -> None:
    repo.junit = [("tests.test_a", "test_sorts", "skipped")]
    repo.criteria = []
    repo.vnv = None
    repo.review_all()
    gates = {p.gate for p in repo.problems()}
    assert gates == {"unverified", "control-unverified"}


@pytest.mark.verifies("SRS-TRACE-002")
def test_risk_without_control(repo: MiniRepo) -> None:
    repo.risks.append(dict(repo.risks[0], id="RISK-002", controls=[]))
    repo.review_all()
    assert repo.lines() == ["no-control: RISK-002: risk has no risk control"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_control_without_implementing_requirement(repo: MiniRepo) -> None:
    repo.controls.append(dict(repo.controls[0], id="RC-002"))
    repo.risks[0]["controls"] = ["RC-001", "RC-002"]
    repo.review_all()
    assert repo.lines() == ["control-unverified: RC-002: no requirement implements it, so "
                            "nothing verifies its implementation"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_control_whose_requirement_fails_is_unverified(repo: MiniRepo) -> None:
    repo.junit = [("tests.test_a", "test_sorts", "failed")]
    lines = repo.lines()
    assert "failed: tests.test_a::test_sorts: test failed in reports/junit.xml" in lines
    assert ("control-unverified: RC-001: implementing requirement SRS-TST-001 is not verified"
            in lines)


@pytest.mark.verifies("SRS-TRACE-002")
def test_stage_without_requirement(repo: MiniRepo) -> None:
    repo.stages["read"]["meta"]["requirements"] = []
    repo.review_all()
    assert repo.lines() == ["no-requirement: read: stage names no requirement in "
                            "meta.requirements"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_stage_that_has_not_run_is_missing_unless_it_runs_the_check(repo: MiniRepo) -> None:
    repo.lock = {}
    assert repo.lines() == ["missing: read: stage has not run (no dvc.lock entry); run dvc repro"]
    assert repo.problems(as_of="read") == []


@pytest.mark.verifies("SRS-TRACE-002")
def test_missing_test_report_makes_tests_missing(repo: MiniRepo) -> None:
    repo.junit = None
    lines = repo.lines()
    assert any(line.startswith("missing: SRS-TST-001: 1 test(s) without result in "
                               "reports/junit.xml (not found)") for line in lines)


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-004")
def test_failed_and_missing_criterion(repo: MiniRepo) -> None:
    repo.vnv = vnv_with("FAIL", 0.5)
    assert "failed: VAL-001: FAIL: teacher: point 0.5 >= 0.8 not met" in repo.lines()
    repo.vnv = None
    lines = repo.lines()
    assert "missing: VAL-001: no result in metrics/vnv.json" in lines
    assert ("missing: SRS-TST-001: 1 acceptance criterion(s) without result in "
            "metrics/vnv.json: VAL-001") in lines


@pytest.mark.verifies("SRS-TRACE-002")
def test_unmarked_test_in_the_report(repo: MiniRepo) -> None:
    repo.junit.append(("tests.test_b", "test_other", "passed"))
    assert repo.lines() == ["unlinked: tests.test_b::test_other: test verifies no requirement "
                            "(add @pytest.mark.verifies)"]


@pytest.mark.verifies("SRS-TRACE-002", "SRS-TRACE-001")
def test_unacceptable_residual_risk(repo: MiniRepo) -> None:
    repo.risks[0]["residual_probability"] = "probable"
    repo.review_all()
    assert repo.lines() == ["residual-risk: RISK-001: residual risk critical (4) x probable (4) "
                            "is in the unacceptable region"]


@pytest.mark.verifies("SRS-TRACE-002", "SRS-TRACE-001")
def test_alarp_residual_risk_needs_a_benefit_risk_justification(repo: MiniRepo) -> None:
    repo.risks[0]["residual_probability"] = "remote"
    repo.review_all()
    assert repo.lines() == ["residual-risk: RISK-001: residual risk is ALARP but has no "
                            "benefit_risk justification"]
    repo.risks[0]["benefit_risk"] = "Reviewed by a radiologist; benefit outweighs."
    repo.review_all()
    assert repo.lines() == []


@pytest.mark.verifies("SRS-TRACE-002")
def test_release_status_from_vnv_and_missing_evidence(repo: MiniRepo) -> None:
    repo.vnv["release_status"] = "not releasable"
    repo.vnv["evidence"] = [records.evidence_image("evidence/gradcam.png", ("SRS-TST-001",))]
    lines = repo.lines()
    assert "failed: release: metrics/vnv.json reports release status 'not releasable'" in lines
    assert ("missing: evidence/gradcam.png: evidence file listed in metrics/vnv.json not found"
            in lines)


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-001")
def test_a_test_split_evaluated_more_often_than_the_plan_allows_fails(repo: MiniRepo) -> None:
    repo.vnv["test_split"] = records.locked_split(3, 3)
    assert not [line for line in repo.lines() if line.startswith("test-split")]
    repo.vnv["test_split"] = records.locked_split(4, 3)
    assert ("test-split: test split: looked at 4 times, more than the V&V plan's test_split_policy "
            "allows (3): refresh it with new patients before a release claims performance on it") in repo.lines()


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-008")
def test_the_policy_limits_looks_not_runs(repo: MiniRepo) -> None:
    repo.vnv["test_split"] = records.locked_split(6, 3, looks=2)  # re-runs that showed the same
    assert not [line for line in repo.lines() if line.startswith("test-split")]
    repo.vnv["test_split"] = records.locked_split(6, 3, looks=4)
    assert [line for line in repo.lines() if line.startswith("test-split")] == [
        "test-split: test split: looked at 4 times, more than the V&V plan's test_split_policy "
        "allows (3): refresh it with new patients before a release claims performance on it"]


@pytest.mark.verifies("SRS-TRACE-002", "SRS-VNV-007")
def test_the_external_split_is_held_to_the_same_policy(repo: MiniRepo) -> None:
    repo.vnv["test_split"] = records.locked_split(1, 3)
    repo.vnv["external_split"] = records.locked_split(3, 3, split="external", identity="e" * 64)
    assert not [line for line in repo.lines() if line.startswith("test-split")]
    repo.vnv["external_split"] = records.locked_split(4, 3, split="external", identity="e" * 64)
    assert [line for line in repo.lines() if line.startswith("test-split")] == [
        "test-split: external split: looked at 4 times, more than the V&V plan's test_split_policy "
        "allows (3): refresh it with new patients before a release claims performance on it"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_test_report_from_other_sources_is_suspect(tmp_path) -> None:
    from pipeline.trace.gates import _test_report_source
    from pipeline.trace.graph import TracePaths, Trace

    def trace(source):
        return Trace(design=None, stages={}, tests={}, vnv=None, runs={}, reviews={}, junit_found=True,
                     paths=TracePaths.of(tmp_path, PATHS), commit="a" * 40, junit_source=source)

    assert _test_report_source(trace("a" * 40)) == []
    for source, why in ((None, "records no source commit"), ("b" * 40, "ran on bbbbbbbbbbbb"),
                        ("a" * 40 + "-dirty", "ran on aaaaaaaaaaaa with uncommitted changes")):
        (problem,) = _test_report_source(trace(source))
        assert problem.gate == "suspect" and why in problem.message and "make test" in problem.message


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_recorded_output_edited_after_the_run_fails_naming_the_file(repo: MiniRepo) -> None:
    assert not [line for line in repo.lines() if line.startswith("changed")]
    repo.outputs["out/read"] = b"what the read stage wrote, with a better Dice\n"
    changed = [line for line in repo.lines() if line.startswith("changed")]
    assert len(changed) == 1 and changed[0].startswith(
        "changed: out/read: differs from what stage read recorded in dvc.lock (md5 ")
    assert "rerun the stage (dvc repro) or restore the recorded content (dvc checkout)" in changed[0]


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_recorded_folder_is_hashed_as_dvc_does_and_a_changed_file_in_it_is_seen(repo: MiniRepo) -> None:
    from pipeline.trace.workspace import dvc_md5

    folder = repo.root / "out" / "deid"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.dcm").write_bytes(b"one")
    (folder / "sub" / "b.dcm").write_bytes(b"two")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"ignored by .dvcignore")
    (repo.root / ".dvcignore").write_text("__pycache__/\n*.pyc\n")
    # DVC itself (dvc add, in a repository of its own holding a copy) must compute the same hash
    import shutil

    reference = repo.root.parent / "dvc-reference"
    shutil.copytree(folder, reference / "deid")
    shutil.copy(repo.root / ".dvcignore", reference / ".dvcignore")
    dvc = Path(sys.executable).with_name("dvc")
    for args in (["init", "--no-scm", "-q"], ["add", "deid"]):
        done = subprocess.run([str(dvc), *args], cwd=reference, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    theirs = yaml.safe_load((reference / "deid.dvc").read_text())["outs"][0]["md5"]
    import pathspec

    ignore = pathspec.GitIgnoreSpec.from_lines(["__pycache__/", "*.pyc"])
    assert dvc_md5(folder, ignore) == theirs and theirs.endswith(".dir")
    repo.stages["read"]["outs"].append("out/deid")
    repo.lock["read"]["outs"].append({"path": "out/deid", "md5": theirs})
    assert not [line for line in repo.lines() if line.startswith("changed")]
    (folder / "sub" / "b.dcm").write_bytes(b"two, edited")
    assert [line.split(" (md5")[0] for line in repo.lines() if line.startswith("changed")] == [
        "changed: out/deid: differs from what stage read recorded in dvc.lock"]
    shutil.rmtree(folder)
    assert [line.split(":")[1] for line in repo.lines() if line.startswith("changed")] == [" out/deid"]


@pytest.mark.verifies("SRS-TRACE-002")
def test_a_test_report_stays_valid_across_commits_of_run_records_only(tmp_path) -> None:
    import subprocess

    from pipeline.trace.gates import _test_report_source
    from pipeline.trace.graph import Trace, TracePaths

    def commit(path, text):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", path], check=True)
        return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

    def problems(source, release):
        return _test_report_source(Trace(design=None, stages={}, tests={}, vnv=None, runs={}, reviews={},
                                         junit_found=True, paths=TracePaths.of(tmp_path, PATHS), commit=release,
                                         junit_source=source))

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    tested = commit("pipeline/x.py", "x = 1\n")
    lock = commit("dvc.lock", "stages: {}\n")
    approved = commit("governance/approvals/a.json", "{}\n")
    assert problems(tested, lock) == [] and problems(tested, approved) == []
    edited = commit("pipeline/x.py", "x = 2\n")
    assert problems(tested, edited) and problems(lock, edited)  # a source changed after the tests
    assert problems(edited, tested)  # a report from a later commit is not the release's either
