"""The site and the technical file read the stage runs from the store the stages logged to:
the repository's SQLite file, or the team's tracking server named by $MLFLOW_TRACKING_URI."""

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.trace import results

pytestmark = [pytest.mark.slow, pytest.mark.verifies("SRS-TEAM-001")]


def _log_runs(root, monkeypatch):
    from pipeline.core.tracking import stage_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "train": {"deps": [{"path": "data/preprocessed", "md5": "abc.dir"}]}}}))
    ids = []
    for stage in ("train", "deid", "train"):
        with stage_run(stage, inputs=["data/preprocessed"], root=root) as run:
            pass
        ids.append(run.run_id)
    with pytest.raises(RuntimeError):  # a failed run is never the stage's evidence
        with stage_run("train", inputs=[], root=root):
            raise RuntimeError("killed")
    return ids


def test_the_client_reads_the_same_runs_as_the_sqlite_reader(tmp_path, monkeypatch):
    first_train, deid, last_train = _log_runs(tmp_path, monkeypatch)
    db = tmp_path / "mlflow.db"
    local = results.load_mlflow_runs(db)
    assert {stage: run.run_id for stage, run in local.items()} == {"train": last_train, "deid": deid}
    assert set(local["train"].inputs) == {"data/preprocessed"}
    through_client = results.server_runs(f"sqlite:///{db}")
    assert through_client == local


def test_with_a_tracking_server_configured_the_runs_come_from_it(tmp_path, monkeypatch):
    _, deid, last_train = _log_runs(tmp_path, monkeypatch)
    calls = []
    monkeypatch.setattr(results, "server_runs", lambda uri: calls.append(uri) or {})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:15000")
    assert results.load_mlflow_runs(tmp_path / "mlflow.db") == {}  # not the local file's runs
    assert calls == ["http://127.0.0.1:15000"]


def test_a_server_that_does_not_answer_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with pytest.raises(UserError, match="127.0.0.1:9 did not answer"):
        results.server_runs("http://127.0.0.1:9")
