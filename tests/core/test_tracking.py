"""The stage run is written by a child process (``pipeline.core.run_writer``) and records what the
stage's own in-process MLflow run recorded: params, metrics with their steps and the stage's
timestamps, tags, artifacts, the stage's start and end times; a failed block is a FAILED run,
Ctrl-C a KILLED one, a killed stage a KILLED one; a writer that cannot write fails the stage."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.core import run_writer, tracking
from pipeline.core.tracking import stage_run, start_writer
from pipeline.core.writer_process import RunWriterError

pytestmark = [pytest.mark.slow, pytest.mark.verifies("SRS-PLAT-003")]

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_000
LOCK = {"schema": "2.0", "stages": {"cohort": {"cmd": "x", "outs": [{"path": "data/raw", "md5": "abc.dir"}]}}}


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A repository root with a ``dvc.lock``; the store is its ``mlflow.db``."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(tracking.ENV_INPROCESS, raising=False)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    return tmp_path


def _client(root: Path):
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")


def _runs(root: Path) -> list:
    client = _client(root)
    experiment = client.get_experiment_by_name("pipeline")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def _clock(monkeypatch) -> list[int]:
    """The stage's clock, one second per reading; returns the readings taken."""
    taken: list[int] = []
    ticks = itertools.count(T0, 1000)
    monkeypatch.setattr(tracking, "now_ms", lambda: taken.append(next(ticks)) or taken[-1])
    return taken


@pytest.mark.parametrize("inprocess", [False, True], ids=["writer process", "in-process fallback"])
def test_the_run_records_what_the_stage_logged_with_the_stages_times(store, tmp_path, monkeypatch, inprocess):
    if inprocess:
        from mlflow.tracking._tracking_service import utils

        monkeypatch.setenv(tracking.ENV_INPROCESS, "1")
        monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)  # MLflow's global, set in-process
    times = _clock(monkeypatch)
    monkeypatch.chdir(store)
    (store / "report.json").write_text("{}")
    (store / "out" / "deep").mkdir(parents=True)
    (store / "out" / "deep" / "a.txt").write_text("a")
    with stage_run("cohort", inputs=["data/raw"], root=store) as run:
        run.log_params({"seed": 11, "flag": True, "sizes": [1, 2]})
        run.log_param("one", 1.5)
        run.log_metric("loss", np.float32(0.5), step=np.int64(2))
        run.log_metric("loss", 0.25, step=3)
        run.log_metrics({"dice": 1, "ok": True})
        run.log_metrics({"lr": 0.01}, step=4)
        run.set_tags({"weights_sha256": "f" * 64, "threads": 2})
        run.set_tag("release_status", "releasable")
        run.log_artifact("report.json")  # relative: made absolute here, when the call is made
        run.log_artifacts(Path("out"), artifact_path="vnv")
        monkeypatch.chdir(tmp_path.parent)  # the stage moves on; the writer copies later
    assert run.run_id is not None and len(times) == 6  # start, four metric calls, end
    client = _client(store)
    got = client.get_run(run.run_id)
    assert (got.info.status, got.info.start_time, got.info.end_time) == ("FINISHED", times[0], times[-1])
    assert got.info.run_name == "cohort"
    assert got.data.params == {"seed": "11", "flag": "True", "sizes": "[1, 2]", "one": "1.5"}
    history = {key: [(m.value, m.step, m.timestamp) for m in client.get_metric_history(run.run_id, key)]
               for key in ("loss", "dice", "ok", "lr")}
    assert history == {"loss": [(0.5, 2, times[1]), (0.25, 3, times[2])], "dice": [(1.0, 0, times[3])],
                       "ok": [(1.0, 0, times[3])], "lr": [(0.01, 4, times[4])]}
    tags = got.data.tags
    assert {k: tags[k] for k in ("stage", "git_commit", "dvc.input.data/raw", "weights_sha256", "threads",
                                 "release_status", "mlflow.runName", "mlflow.source.type")} == {
        "stage": "cohort", "git_commit": "unknown", "dvc.input.data/raw": "abc.dir", "weights_sha256": "f" * 64,
        "threads": "2", "release_status": "releasable", "mlflow.runName": "cohort", "mlflow.source.type": "LOCAL"}
    assert tags["mlflow.source.name"] == sys.argv[0]  # the stage's main file, not the writer's
    assert "mlflow.user" in tags
    artifacts = {a.path for a in client.list_artifacts(run.run_id)} | {
        a.path for a in client.list_artifacts(run.run_id, "vnv/deep")}
    assert artifacts == {"report.json", "vnv", "vnv/deep/a.txt"}
    experiment = client.get_experiment(got.info.experiment_id)
    assert (experiment.name, experiment.artifact_location) == ("pipeline", (store / "mlartifacts").as_uri())


def test_a_block_that_raises_fails_the_run_and_raises_its_own_exception(store, monkeypatch):
    times = _clock(monkeypatch)
    with pytest.raises(ValueError, match="the stage broke"):
        with stage_run("train", inputs=[], root=store) as run:
            run.log_metric("loss", 1.0)
            raise ValueError("the stage broke")
    got = _client(store).get_run(run.run_id)
    assert (got.info.status, got.info.end_time) == ("FAILED", times[-1])
    assert got.data.metrics == {"loss": 1.0}


def test_a_metric_that_is_not_a_number_is_refused_at_the_call(store):
    with pytest.raises(TypeError, match="'loss': 'high' is not a number"):
        with stage_run("train", inputs=[], root=store) as run:
            run.log_metric("loss", "high")
    assert _client(store).get_run(run.run_id).info.status == "FAILED"


@pytest.mark.parametrize(("uri", "why"), [("sqlite:///{tmp}/a-file/mlflow.db", "FileExistsError"),
                                          ("bogus://nowhere", "unsupported URI 'bogus://nowhere'")],
                         ids=["store that cannot be created", "malformed URI"])
def test_a_writer_that_cannot_write_fails_the_stage_naming_the_store(tmp_path, monkeypatch, capfd, uri, why):
    uri = uri.format(tmp=tmp_path)
    (tmp_path / "a-file").write_text("a file where the store's folder should be")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(RunWriterError, match=re.escape(uri)) as raised:
        with stage_run("train", inputs=[], root=tmp_path) as run:
            run.log_params({"seed": 1})
            time.sleep(1)
            run.log_metric("loss", 1.0)
    assert "stopped (exit code 1)" in str(raised.value)
    assert why in str(raised.value)  # the writer's own account follows
    assert isinstance(raised.value, RuntimeError)
    # when the block itself raised, its exception is the one raised; the writer's is printed
    with pytest.raises(KeyError):
        with stage_run("train", inputs=[], root=tmp_path):
            raise KeyError("the stage's own error")
    assert f"recording to {uri}" in capfd.readouterr().err


def _stage_script(tmp_path: Path, body: str) -> list[str]:
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        from pathlib import Path
        from pipeline.core.tracking import stage_run
        # Ctrl-C as in a terminal: a process started in the background by a non-interactive shell
        # (a CI runner's `cmd &`) inherits SIGINT ignored, and Python then installs no handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with stage_run("train", inputs=[], root=Path({str(tmp_path)!r})) as run:
            run.log_metric("loss", 1.0, step=1)
    """) + textwrap.indent(textwrap.dedent(body), "    ")
    return [sys.executable, "-c", code]


def _wait_for_run(root: Path, status: str, seconds: float = 90):
    """The first run with ``status``, once there is one (read with ``sqlite3``: an MLflow client
    opening a store the writer is still creating would create it a second time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            with contextlib.closing(sqlite3.connect(f"{(root / 'mlflow.db').as_uri()}?mode=ro", uri=True)) as con:
                found = con.execute("SELECT run_uuid FROM runs WHERE status = ?", (status,)).fetchall()
            if found:
                return _client(root).get_run(found[0][0])
        time.sleep(0.5)
    raise AssertionError(f"no {status} run in {seconds} s")


def _env(tmp_path: Path) -> dict[str, str]:
    """The stage's environment: this checkout's package, the repository's store (``tmp_path``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", tracking.ENV_INPROCESS)}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_ctrl_c_kills_the_run_and_the_writer_ignores_it(tmp_path):
    """Ctrl-C reaches the whole process group: the stage ends the run as KILLED."""
    stage = subprocess.Popen(_stage_script(tmp_path, "time.sleep(120)"), cwd=tmp_path, env=_env(tmp_path),
                             start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        running = _wait_for_run(tmp_path, "RUNNING")  # the writer is up (it ignores SIGINT from its start)
        os.killpg(stage.pid, signal.SIGINT)
        try:
            _, err = stage.communicate(timeout=60)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the stage did not end within 60 s of Ctrl-C; its stderr so far: {exc.stderr!r}")
    finally:
        stage.kill()
    assert "KeyboardInterrupt" in err
    got = _client(tmp_path).get_run(running.info.run_id)
    assert got.info.status == "KILLED" and got.data.metrics == {"loss": 1.0}


@pytest.mark.parametrize("holder", [False, True], ids=["pipe closed", "pipe held by a forked worker"])
def test_a_killed_stage_leaves_a_killed_run(tmp_path, holder):
    """No end message: end of file, or the stage process gone while a worker it forked holds the pipe."""
    worker = "if os.fork() == 0:\n    time.sleep(120)\n    os._exit(0)\n" if holder else ""
    stage = subprocess.Popen(_stage_script(tmp_path, worker + "os.kill(os.getpid(), signal.SIGKILL)"),
                             cwd=tmp_path, env=_env(tmp_path), start_new_session=True)
    try:
        assert stage.wait(timeout=60) == -signal.SIGKILL
        killed = _wait_for_run(tmp_path, "KILLED")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stage.pid, signal.SIGKILL)  # the worker, sleeping in the stage's process group
    assert killed.data.metrics == {"loss": 1.0} and killed.data.tags["stage"] == "train"


def test_a_writer_started_early_and_never_used_records_nothing(tmp_path, monkeypatch):
    """``deid`` and ``trace`` start the writer before their work and open the run after it; a stage
    that fails before that leaves no run."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(OSError):
        with start_writer(tmp_path) as writer:
            raise OSError("the disk refused")
    assert writer._proc.wait(timeout=60) == 0
    assert _runs(tmp_path) == []


def test_the_writer_reads_whole_lines_and_stops_at_end_of_file_or_when_the_stage_is_gone(monkeypatch):
    read, write = os.pipe()
    try:
        lines = run_writer.Lines(read, os.getppid())
        os.write(write, b'{"op": "a"}\n{"op": ')
        assert lines.next() == {"op": "a"}
        os.write(write, b'"b"}\n{"op": "c"')
        assert lines.next() == {"op": "b"}
        monkeypatch.setattr(run_writer, "PARENT_CHECK_S", 0.05)
        assert run_writer.Lines(read, -1).next() is None  # no input, and the process it served is gone
        os.close(write)
        write = None
        assert lines.next() is None  # end of file: the partial last line (a stage killed writing it) is dropped
    finally:
        os.close(read)
        if write is not None:
            os.close(write)


def test_the_stages_clock_never_reads_the_same_millisecond_twice():
    """Calls return at once now; a metric logged twice at one step must not share a timestamp
    (MLflow refuses the second for a logged model)."""
    readings = [tracking.now_ms() for _ in range(2000)]
    assert all(b > a for a, b in zip(readings, readings[1:]))
    assert abs(readings[0] - time.time() * 1000) < 60_000
