"""release diff REV: what changed since the release at a git revision, classified against the PCCP."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import get_args

import pytest
import yaml

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.core.atomic import dumps_json
from pipeline.governance.changes import (JSON_NAME, ItemArea, ItemChange, ValueArea, load_change_report,
                                         write_report)
from pipeline.governance.classify import classify, load_rules
from pipeline.governance.diff import AREA_TITLES, diff_release
from tests.trace.minirepo import MiniRepo, vnv_with
from tests.paths import PATHS

RULES = Path(__file__).resolve().parents[2] / "governance" / "change_rules.yaml"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def _vnv(value: float) -> dict:
    return vnv_with("PASS" if value >= 0.8 else "FAIL", value)


def _lock(repo: MiniRepo, vnv: dict, model: str) -> None:
    content = json.dumps(vnv).encode()
    md5 = hashlib.md5(content).hexdigest()
    cache = repo.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(content)
    repo.lock = {"read": repo.lock["read"],
                 "train": {"cmd": "x", "outs": [{"path": "models/teacher.pt", "md5": model}]},
                 "verify": {"cmd": "y", "outs": [{"path": "metrics/vnv.json", "md5": md5}]}}
    repo.vnv = vnv


@pytest.fixture
def history(tmp_path: Path) -> MiniRepo:
    """A repository with one committed release: design items, lock, params, SOUP pins."""
    repo = MiniRepo(tmp_path / "repo")
    _lock(repo, _vnv(0.90), "a" * 32)
    repo.write()
    (repo.root / "governance").mkdir(exist_ok=True)
    shutil.copy(RULES, repo.root / "governance/change_rules.yaml")
    (repo.root / "params.yaml").write_text(yaml.safe_dump({"paths": PATHS.model_dump(), "train": {"epochs": 40},
                                                           "techfile": {"product_name": "a"}}))
    (repo.root / "requirements.lock").write_text("numpy==2.1.0\ntorch==2.13.0\n")
    _git(repo.root, "init", "-q")
    _git(repo.root, "add", ".")
    _git(repo.root, "commit", "-qm", "release 1")
    return repo


@pytest.mark.verifies("SRS-GOV-004")
def test_an_edited_requirement_is_listed_with_its_text_change(history, capsys):
    history.reqs[0]["text"] = "Slices are sorted along the scanner's slice normal."
    history.write()
    _git(history.root, "commit", "-qam", "edit SRS-TST-001")
    assert main(["release", "diff", "HEAD~1", "--root", str(history.root)]) == 0
    assert "requirement: SRS-TST-001: changed [new submission]" in capsys.readouterr().out
    report = json.loads((history.root / "release/changes/changes.json").read_text())
    (change,) = report["changes"]
    assert change["fields"][0]["field"] == "text"
    assert change["fields"][0]["before"] == "Slices are sorted along the normal."
    assert change["fields"][0]["after"] == "Slices are sorted along the scanner's slice normal."
    html = (history.root / "release/changes/index.html").read_text()
    assert "SRS-TST-001" in html and '<span class="ins">scanner&#39;s</span>' in html
    first = (history.root / "release/changes/index.html").read_bytes()
    assert main(["release", "diff", "HEAD~1", "--root", str(history.root)]) == 0
    assert (history.root / "release/changes/index.html").read_bytes() == first  # no wall-clock time


@pytest.mark.verifies("SRS-GOV-004")
def test_results_hashes_soup_and_params_are_compared(history):
    _lock(history, _vnv(0.85), "b" * 32)
    history.risks[0]["reduction_rationale"] = "Sorting by the normal is exact."
    history.needs.append({**history.needs[0], "id": "URS-002", "title": "Another need"})
    history.write()
    (history.root / "requirements.lock").write_text("numpy==2.2.0\ntorch==3.0.0\n")
    (history.root / "params.yaml").write_text(yaml.safe_dump({"paths": PATHS.model_dump(), "train": {"epochs": 40},
                                                              "techfile": {"product_name": "b"}}))
    report = diff_release(history.root, "HEAD")
    found = {(c["area"], c["id"]): c for c in report["changes"]}
    result = found[("result", "VAL-001")]
    assert result["models"][0]["delta"] == pytest.approx(-0.05)
    assert result["classification"] == "documentation only"
    assert found[("output", "train:models/teacher.pt")]["classification"] == "within PCCP"
    assert found[("output", "train:models/teacher.pt")]["modification"] == "MOD-1"
    assert found[("soup", "numpy")]["classification"] == "within PCCP"
    assert found[("soup", "torch")]["classification"] == "new submission"  # a new major version
    assert found[("params", "techfile.product_name")]["classification"] == "documentation only"
    assert found[("user_need", "URS-002")]["action"] == "added"
    assert found[("risk", "RISK-001")]["classification"] == "documentation only"
    assert report["summary"]["verdict"] == "new submission needed"


@pytest.mark.verifies("SRS-GOV-004")
def test_a_failing_result_puts_the_release_outside_the_pccp(history):
    _lock(history, _vnv(0.70), "b" * 32)
    history.write()
    found = {(c["area"], c["id"]): c for c in diff_release(history.root, "HEAD")["changes"]}
    assert found[("result", "VAL-001")]["classification"] == "new submission"
    assert found[("output", "train:models/teacher.pt")]["classification"] == "new submission"


@pytest.mark.verifies("SRS-GOV-004")
def test_an_unknown_revision_or_bad_rules_are_one_message(history, tmp_path):
    with pytest.raises(UserError, match="'v9' is not a git revision"):
        diff_release(history.root, "v9")
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"area": "model", "classification": "within PCCP", "why": "x y z"}]}))
    with pytest.raises(UserError, match="unknown area"):
        load_rules(bad)


@pytest.mark.verifies("SRS-GOV-004")
def test_a_change_no_rule_covers_needs_a_new_submission():
    verdict = classify({"area": "output", "action": "changed", "id": "newstage:x"}, load_rules(RULES), True)
    assert verdict["classification"] == "new submission" and verdict["rule"] is None


def _full_report(history: MiniRepo) -> dict:
    """A report with every kind of change: design items (added, changed), a result, hashes, SOUP, params."""
    _lock(history, _vnv(0.85), "b" * 32)
    history.reqs[0]["text"] = "Slices are sorted along the scanner's slice normal."
    history.needs.append({**history.needs[0], "id": "URS-002", "title": "Another need"})
    history.write()
    (history.root / "requirements.lock").write_text("numpy==2.2.0\ntorch==2.13.0\n")
    return diff_release(history.root, "HEAD")


@pytest.mark.verifies("SRS-GOV-004", "SRS-DOC-001")
def test_the_written_report_parses_through_its_model_with_the_same_bytes(history):
    report = _full_report(history)
    assert {c["area"] for c in report["changes"]} >= {"user_need", "requirement", "result", "output", "soup"}
    out = history.root / "release/changes"
    write_report(report, out)
    written = (out / JSON_NAME).read_text()
    assert written == dumps_json(report)  # the model checks the report, it never re-serialises it
    parsed = load_change_report(out)
    assert dumps_json(parsed.model_dump(exclude_unset=True)) == written  # no key lost, "from" keeps its name
    assert parsed.from_.rev == "HEAD" and isinstance(parsed.changes[0], ItemChange)
    assert set(report["areas"]) == set(AREA_TITLES) == (set(get_args(ItemArea)) | set(get_args(ValueArea))
                                                         | {"result"})
    assert load_change_report(tmp_dir := history.root / "release/none") is None and not tmp_dir.exists()


@pytest.mark.verifies("SRS-GOV-004", "SRS-DOC-001")
@pytest.mark.parametrize("breakage, named", [
    (lambda r: r["summary"].update(verdict="fine"), "summary.verdict: Input should be"),
    (lambda r: r.update(frm=r.pop("from")), "from: Field required"),
    (lambda r: r["changes"][0].update(area="model"), "changes.0: Input tag 'model' found using 'area' does not match"),
    (lambda r: r["changes"][0].pop("classification"), "classification: Field required"),
    (lambda r: r["changes"][0].update(extra=1), "extra: Extra inputs are not permitted"),
])
def test_a_malformed_change_report_is_one_message_naming_the_file_and_the_field(history, breakage, named):
    report = _full_report(history)
    out = history.root / "release/changes"
    out.mkdir(parents=True)
    breakage(report)
    (out / JSON_NAME).write_text(json.dumps(report))
    with pytest.raises(UserError) as raised:
        load_change_report(out)
    message = str(raised.value)
    assert message.startswith(f"{out / JSON_NAME} is not a valid change report (ChangeReport)")
    assert named in message and message.endswith("run `python -m pipeline release diff REV` again")
    with pytest.raises(ValueError, match="change report about to be written is not a valid ChangeReport"):
        write_report(report, history.root / "release/refused")  # release diff never writes one
    assert not (history.root / "release/refused").exists()


@pytest.mark.verifies("SRS-GOV-004")
def test_a_change_report_that_is_not_json_is_one_message(tmp_path):
    (tmp_path / JSON_NAME).write_text("{not json")
    with pytest.raises(UserError, match=r"changes.json is not a valid change report \(ChangeReport\).*Invalid JSON"):
        load_change_report(tmp_path)


@pytest.mark.verifies("SRS-GOV-004")
def test_a_release_written_in_the_former_item_form_shows_no_design_change(tmp_path):
    """Requirements and controls once called their category ``type`` and hazards gave level numbers:
    a release recorded in that form, compared with today's files saying the same, changes nothing."""
    repo = MiniRepo(tmp_path / "repo")
    repo.write()
    (repo.root / "governance").mkdir(exist_ok=True)
    shutil.copy(RULES, repo.root / "governance/change_rules.yaml")
    (repo.root / "params.yaml").write_text(yaml.safe_dump({"paths": PATHS.model_dump()}))
    today = {rel: (repo.root / rel).read_text() for rel in
             ("requirements/software/tst.yaml", "risk/controls.yaml", "risk/hazards.yaml")}
    plan = yaml.safe_load((repo.root / "risk/plan.yaml").read_text())
    levels = {lv["name"]: lv["level"] for scale in ("severity", "probability") for lv in plan[scale]}
    for rel, text in today.items():  # the former form of the same items
        items = yaml.safe_load(text)
        for item in items:
            if "kind" in item and not rel.startswith("risk/hazards"):
                item["type"] = item.pop("kind")
            for key in ("severity", "probability", "residual_severity", "residual_probability"):
                if key in item:
                    item[key] = levels[item[key]]
        (repo.root / rel).write_text(yaml.safe_dump(items, sort_keys=False))
    _git(repo.root, "init", "-q")
    _git(repo.root, "add", ".")
    _git(repo.root, "commit", "-qm", "release in the former form")
    for rel, text in today.items():
        (repo.root / rel).write_text(text)
    report = diff_release(repo.root, "HEAD")
    assert [c for c in report["changes"] if c["area"] in get_args(ItemArea)] == []


@pytest.mark.verifies("SRS-GOV-004")
def test_the_criteria_compared_are_those_of_the_plan_each_release_judged_by(history):
    """A data profile's own V&V plan (``verify.plan``): a changed threshold there is a design change,
    although the default plan beside it is untouched."""
    params = yaml.safe_load((history.root / "params.yaml").read_text())
    plan = history.root / "verification/plans/mine.yaml"
    plan.parent.mkdir()
    plan.write_text(yaml.safe_dump({"criteria": history.criteria}))
    (history.root / "params.yaml").write_text(yaml.safe_dump({**params, "verify": {"plan": str(plan.relative_to(history.root))}}))
    _git(history.root, "add", ".")
    _git(history.root, "commit", "-qm", "release 2: my data's plan")
    plan.write_text(yaml.safe_dump({"criteria": [{**history.criteria[0], "threshold": 0.7}]}))
    changes = [c for c in diff_release(history.root, "HEAD")["changes"] if c["area"] == "criterion"]
    assert [(c["id"], c["fields"][0]["field"]) for c in changes] == [("VAL-001", "threshold")]
