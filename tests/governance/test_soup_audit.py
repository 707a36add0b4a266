"""The SOUP vulnerability audit: recorded PyPI answers (never the network), the evaluation
coverage and staleness rule of trace check, and what the technical file shows."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pipeline.core.atomic import write_json
from pipeline.core.errors import UserError
from pipeline.governance import pypi, soup_evaluations
from pipeline.governance.soup_audit import AUDIT, audit

VULN = {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2026-0001", "PYSEC-2026-1"], "details": "pickle loads",
        "summary": None, "fixed_in": ["2.0.1"], "link": "https://osv.dev/vulnerability/GHSA-aaaa-bbbb-cccc",
        "source": "osv", "withdrawn": None}
# URL -> JSON (None: 404), as PyPI answered: one release endpoint served, the others only as projects
RECORDED = {"https://pypi.org/pypi/alpha/2.0.0/json": {"info": {"version": "2.0.0"}, "vulnerabilities": [VULN]},
            "https://pypi.org/pypi/beta/1.0.0/json": None,
            "https://pypi.org/pypi/beta/json": {"info": {"version": "1.0.0"}, "vulnerabilities": []},
            "https://pypi.org/pypi/gamma/3.0.0/json": None,
            "https://pypi.org/pypi/gamma/json": {"info": {"version": "3.2.0"}, "vulnerabilities": []},
            "https://pypi.org/pypi/delta/0.1/json": None, "https://pypi.org/pypi/delta/json": None}
PINS = {"alpha": "2.0.0", "beta": "1.0.0", "gamma": "3.0.0", "delta": "0.1"}
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


def recorded_fetch(name: str, version: str):
    return pypi.fetch(name, version, get=RECORDED.__getitem__)


def evaluation(finding: str = "CVE-2026-0001", version: str = "2.0.0") -> soup_evaluations.Evaluation:
    return soup_evaluations.Evaluation(package="alpha", version=version, finding=finding, affects_device="no",
                                       rationale="the device never reads untrusted pickles", action="accept",
                                       evaluated_by="software engineering", date="2026-11-27")


@pytest.mark.verifies("SRS-MON-004")
def test_the_audit_records_findings_and_what_it_could_not_cover_with_the_reason():
    record = audit(PINS, recorded_fetch, "requirements.lock", "0" * 64, now=NOW)
    status = {p.name: (p.status, p.basis) for p in record.packages}
    assert record.date == "2026-11-27" and "OSV" in record.source
    assert status["alpha"] == ("checked", "release endpoint")
    assert status["beta"][0] == "checked" and "latest" in status["beta"][1]
    assert status["gamma"][0] == "not covered" and "3.2.0" in status["gamma"][1]
    assert status["delta"] == ("not covered", "not on PyPI (the project endpoint answered 404)")
    [finding] = record.findings
    assert (finding.package, finding.id, finding.fixed_in) == ("alpha", "GHSA-aaaa-bbbb-cccc", ["2.0.1"])
    assert finding.aliases == ["CVE-2026-0001", "PYSEC-2026-1"] and finding.summary == "pickle loads"


@pytest.mark.verifies("SRS-MON-004")
def test_a_network_failure_records_nothing():
    def offline(url):
        raise UserError(f"soup audit: {url} could not be read (no network); nothing was recorded")

    with pytest.raises(UserError, match="nothing was recorded"):
        audit(PINS, lambda n, v: pypi.fetch(n, v, get=offline), "requirements.lock", "0" * 64, now=NOW)


@pytest.mark.verifies("SRS-MON-004")
def test_a_finding_needs_an_evaluation_of_its_version_by_id_or_alias():
    record = audit(PINS, recorded_fetch, "requirements.lock", "0" * 64, now=NOW)
    rule = (record, PINS, date(2026, 11, 27), 30)
    [(subject, message)] = soup_evaluations.problems(rule[0], rule[1], [], rule[2], rule[3])
    assert subject == "alpha 2.0.0" and "GHSA-aaaa-bbbb-cccc" in message and "no evaluation" in message
    assert soup_evaluations.problems(record, PINS, [evaluation()], date(2026, 11, 27), 30) == []
    assert soup_evaluations.problems(record, PINS, [evaluation("GHSA-aaaa-bbbb-cccc")], date(2026, 11, 27), 30) == []
    assert soup_evaluations.problems(record, PINS, [evaluation(version="1.9.0")], date(2026, 11, 27), 30)


@pytest.mark.verifies("SRS-MON-004")
def test_an_audit_older_than_the_policy_or_of_other_pins_is_reported():
    record = audit(PINS, recorded_fetch, "requirements.lock", "0" * 64, now=NOW)
    old = soup_evaluations.problems(record, PINS, [evaluation()], date(2026, 12, 28), 30)
    assert len(old) == 1 and "31 days old" in old[0][1] and "allows 30" in old[0][1]
    moved = soup_evaluations.problems(record, {**PINS, "beta": "1.1.0"}, [evaluation()], date(2026, 11, 28), 30)
    assert len(moved) == 1 and "beta==1.1.0 (audited: 1.0.0)" in moved[0][1]
    assert "no SOUP vulnerability audit" in soup_evaluations.problems(None, PINS, [], date(2026, 11, 28), 30)[0][1]


@pytest.mark.verifies("SRS-MON-004")
def test_the_recorded_audit_and_evaluations_are_read_back_and_shown(tmp_path):
    from pipeline.techfile.soup import audit_view

    record = audit(PINS, recorded_fetch, "requirements.lock", "0" * 64, now=NOW)
    write_json(tmp_path / AUDIT, record.model_dump())
    (tmp_path / soup_evaluations.FILE).write_text(
        "not_covered:\n  - {name: chromium (Debian package), reason: not a PyPI package at all}\n"
        "evaluations:\n  - {package: alpha, version: 2.0.0, finding: CVE-2026-0001, affects_device: 'no',\n"
        "     rationale: never reads untrusted pickles, action: accept, evaluated_by: se, date: '2026-11-27'}\n")
    assert soup_evaluations.load_audit(tmp_path) == record
    view = audit_view(tmp_path)
    assert view["date"] == "2026-11-27" and view["checked"] == 2 and len(view["not_covered"]) == 2
    assert view["findings"][0]["evaluation"]["affects_device"] == "no"
    assert view["outside"][0]["name"] == "chromium (Debian package)"


@pytest.mark.verifies("SRS-MON-004")
def test_a_malformed_evaluation_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "governance").mkdir()
    (tmp_path / soup_evaluations.FILE).write_text(
        "evaluations:\n  - {package: alpha, version: 2.0.0, finding: X, affects_device: maybe,\n"
        "     rationale: not sure at all, action: none, evaluated_by: se, date: '2026-11-27'}\n")
    with pytest.raises(UserError, match="soup_vulnerabilities.yaml is not valid: evaluations.0.affects_device"):
        soup_evaluations.load(tmp_path)


@pytest.mark.verifies("SRS-MON-004")
def test_the_repositorys_recorded_audit_has_every_finding_evaluated():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    recorded = soup_evaluations.load_audit(root)
    assert recorded is not None  # age and pins are trace check's business: only the evaluations here
    found = soup_evaluations.problems(recorded, recorded.pins(), soup_evaluations.load(root).evaluations,
                                      date.fromisoformat(recorded.date), 30)
    assert found == []
