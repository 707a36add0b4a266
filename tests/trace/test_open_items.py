"""Open items of the technical file and the release policy: the kinds it names block a release
(the ``open`` gate, on the site and in ``trace check``); every item is counted on the site."""

from __future__ import annotations

import pytest
import yaml

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.design.open_items import FILE
from pipeline.trace.gates import check
from pipeline.trace.site import summary, write_site
from tests.trace.minirepo import MiniRepo

ITEMS = [{"id": "OPEN-01", "kind": "manufacturer input", "title": "Clinical evaluation", "needed": "a plan",
          "why_not_here": "clinical data", "owner": "clinical affairs"},
         {"id": "OPEN-02", "kind": "gap", "title": "Performance monitoring", "needed": "a monitor",
          "why_not_here": "not built", "owner": "engineering"}]


def _repo(tmp_path, blocking: list[str]) -> MiniRepo:
    repo = MiniRepo(tmp_path / "repo").review_all()
    repo.policy = {"required_roles": [], "blocking_open_items": blocking}
    (repo.root / FILE).parent.mkdir(parents=True, exist_ok=True)
    (repo.root / FILE).write_text(yaml.safe_dump(ITEMS, sort_keys=False))
    return repo


@pytest.mark.verifies("SRS-DOC-006")
def test_the_policy_decides_which_open_items_block_a_release(tmp_path):
    repo = _repo(tmp_path, ["gap"])
    trace = repo.trace()
    open_problems = [p for p in check(trace) if p.gate == "open"]
    assert [p.item for p in open_problems] == ["OPEN-02"]
    assert "blocking_open_items" in open_problems[0].message
    assert summary(trace, check(trace))["release_status"] == "not releasable"
    repo.policy["blocking_open_items"] = []
    assert not [p for p in check(repo.trace()) if p.gate == "open"]


@pytest.mark.verifies("SRS-DOC-006")
def test_the_site_counts_every_open_item_and_trace_check_names_the_blocking_ones(tmp_path, capsys):
    repo = _repo(tmp_path, ["gap", "manufacturer input"])
    trace = repo.trace()
    problems = check(trace)
    counts = summary(trace, problems)["counts"]
    assert counts["open_items"] == 2 and counts["open_items_blocking"] == 2
    write_site(trace, problems, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    assert "2 open item(s)" in page and "2 of a kind the release policy says blocks a release" in page
    assert main(["trace", "check", "--root", str(repo.root)]) == 1
    out = capsys.readouterr().out
    assert "open: OPEN-01: open item (manufacturer input)" in out and "open: OPEN-02: open item (gap)" in out


@pytest.mark.verifies("SRS-DOC-006")
def test_a_malformed_open_item_is_one_message_naming_it(tmp_path):
    repo = _repo(tmp_path, [])
    (repo.root / FILE).write_text(yaml.safe_dump([{**ITEMS[0], "kind": "someday"}]))
    with pytest.raises(UserError, match="OPEN-01"):
        repo.trace()


@pytest.mark.verifies("SRS-DOC-006")
def test_an_unknown_policy_kind_is_refused(tmp_path):
    repo = _repo(tmp_path, ["soon"])
    with pytest.raises(UserError, match="blocking_open_items"):
        repo.trace()
