"""soup review NAME: a signed SOUP anomaly review, open again when the locked version changes."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.governance.soup_review import locked_versions, record_review, review_states
from pipeline.techfile.soup import apply_reviews


@pytest.fixture
def locked(release):
    (release.root / "requirements.lock").write_text("numpy==2.1.0\nPyYAML==6.0.2\n")
    return release


@pytest.mark.verifies("SRS-GOV-006")
def test_a_recorded_review_closes_the_item_for_its_version_only(locked, capsys):
    key = locked.register("Jane Doe", "quality_assurance")
    assert main(["soup", "review", "numpy", "--outcome", "No open anomaly affects the used functions.",
                 "--signer", "Jane Doe", "--key", str(key), "--root", str(locked.root)]) == 0
    (record,) = (locked.root / "governance/soup_reviews").glob("*.json")
    payload = json.loads(record.read_text())["payload"]
    assert (payload["package"], payload["version"], payload["signer"]) == ("numpy", "2.1.0", "Jane Doe")
    states = review_states(locked.root, locked_versions(locked.root / "requirements.lock"))
    assert states["numpy"]["state"] == "done" and "Jane Doe" in states["numpy"]["note"]
    rows = apply_reviews([{"name": "numpy", "anomaly_review": "open", "anomaly_notes": ""},
                          {"name": "PyYAML", "anomaly_review": "open", "anomaly_notes": ""}], states)
    assert [r["anomaly_review"] for r in rows] == ["done", "open"]
    (locked.root / "requirements.lock").write_text("numpy==2.2.0\nPyYAML==6.0.2\n")
    states = review_states(locked.root, locked_versions(locked.root / "requirements.lock"))
    assert states["numpy"]["state"] == "open"
    assert "reviewed version 2.1.0" in states["numpy"]["note"] and "now pins 2.2.0" in states["numpy"]["note"]


@pytest.mark.verifies("SRS-GOV-006")
def test_an_altered_review_or_an_unknown_package_does_not_count(locked):
    key = locked.register("Jane Doe", "quality_assurance")
    with pytest.raises(UserError, match="'scipy' is not pinned"):
        record_review(locked.root, "scipy", "fine", "Jane Doe", key)
    with pytest.raises(UserError, match="'Rick' is not registered"):
        record_review(locked.root, "numpy", "fine", "Rick", key)
    path = record_review(locked.root, "PyYAML", "No anomaly affects safe_load.", "Jane Doe", key)
    record = json.loads(path.read_text())
    record["payload"]["outcome"] = "Reviewed by nobody."
    path.write_text(json.dumps(record))
    assert review_states(locked.root, locked_versions(locked.root / "requirements.lock")) == {}
