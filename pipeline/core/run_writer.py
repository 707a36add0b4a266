"""The MLflow run writer: a child process that records one stage run while the stage works.

Why a process of its own: ``import mlflow`` (about 2 s) and opening its store (about 1.5 s, the
SQLAlchemy and alembic imports) cost each stage process about 3.5 s before its first log call.
Here they run beside the stage's own work, so a stage waits only for whatever of that is left
when it ends. The stage side is ``pipeline.core.tracking`` (``stage_run``, the recorder) and
``pipeline.core.writer_process``, which starts this module as ``python -m pipeline.core.run_writer``
(a fresh interpreter, never a fork of the stage, which later forks workers of its own and runs
torch threads).

What gets recorded is what the stage's own in-process ``mlflow.start_run`` recorded: the run is
created with the tags MLflow's fluent API adds (``mlflow.user``, ``mlflow.source.name`` from the
stage's ``sys.argv[0]``, git), made the active run, and every operation is the fluent function of
the same name (``mlflow.log_metrics`` ...), so metrics logged after a model at the model's step are
linked to it as before. The stage takes the times: the run's start and end, each metric's
timestamp.

Protocol: ``python -m pipeline.core.run_writer STAGE_PID``, then one JSON object per line on stdin
(ASCII).

1. The store: ``{"tracking_uri", "experiment", "artifact_location"}``; the writer imports MLflow,
   opens the store and gets the experiment (creating it with that artifact location if missing).
2. The run: ``{"run_name", "tags", "start_time", "source_name"}`` (start time in ms since the epoch,
   ``source_name`` the stage's ``sys.argv[0]``); the writer creates the run and prints its ID on
   stdout, one line. ``{"op": "close"}`` or end of file instead: no run, exit 0 (the stage ended
   before it opened one).
3. Operations, applied in order as they arrive: ``{"op": NAME, "args": {...}}`` with NAME one of
   ``FLUENT`` (called as ``mlflow.NAME(**args)``), or ``log_pytorch_model`` with ``loader``
   (``module:function`` returning the network, or a tuple whose first item is it),
   ``checkpoint``, ``name``, ``input_example_shape``, ``input_example_dtype`` and
   ``pip_requirements`` (``mlflow.pytorch.log_model`` with an all-zero input example), or
   ``prepare_pytorch_model`` with ``loader``: import it and ``mlflow.pytorch`` now (torch takes
   seconds to import; sent when the stage starts, it spares the stage that wait at its end).
4. ``{"op": "end", "status", "end_time"}``: the run is terminated with that status and end time,
   ``done`` is printed on stdout (which closes) and the writer exits 0. The stage waits for
   ``done``, not for the exit: tearing down an interpreter that imported MLflow (and MLflow's exit
   handlers) takes about a second, and the run is complete before it.

End of file before the end message, or the stage process gone (its pipe may live on in processes
it forked), terminates the run as ``KILLED``. The writer ignores SIGINT: Ctrl-C reaches the whole
process group, and the stage decides the status. Anything else the writer or MLflow prints goes
to stderr, which the stage forwards; a failure prints its traceback there, ends the run
``FAILED`` (``KILLED`` when the stage is gone) where the store still answers, and exits 1 (MLflow's
own exit handler would otherwise end it ``FINISHED``).

Only the standard library is imported before the store line is read; MLflow after it; torch and
the ``loader``'s module only for a ``log_pytorch_model`` operation.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
from typing import Any

FLUENT = frozenset({"log_param", "log_params", "log_metric", "log_metrics", "set_tag", "set_tags",
                    "log_artifact", "log_artifacts"})
STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
DONE = "done"  # the last line on stdout: the run is recorded (the interpreter's exit may take a second)
PARENT_CHECK_S = 1.0  # how often a writer waiting for input checks that the stage process lives


class Writer:
    """One stage run in one store, driven by the protocol's messages (also used in-process by
    ``pipeline.core.tracking`` under ``PIPELINE_MLFLOW_INPROCESS=1``)."""

    def __init__(self, store: dict[str, Any]) -> None:
        """Import MLflow, open the store and get (or create) the experiment: message 1."""
        import mlflow

        self.mlflow = mlflow
        self.run_id: str | None = None
        self.ended = False
        mlflow.set_tracking_uri(store["tracking_uri"])
        if mlflow.get_experiment_by_name(store["experiment"]) is None:
            mlflow.create_experiment(store["experiment"], artifact_location=store["artifact_location"])
        self.experiment_id = mlflow.set_experiment(store["experiment"]).experiment_id  # refuses a deleted one

    def open(self, run: dict[str, Any]) -> str:
        """Create the run at the stage's start time with the fluent API's tags and make it the
        active run: message 2. Returns the run ID."""
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

        tags = resolve_tags({**run["tags"], MLFLOW_RUN_NAME: run["run_name"]})
        created = self.mlflow.MlflowClient().create_run(self.experiment_id, start_time=run["start_time"],
                                                        tags=tags, run_name=run["run_name"])
        self.run_id = created.info.run_id
        self.mlflow.start_run(run_id=self.run_id)
        return self.run_id

    def apply(self, message: dict[str, Any]) -> None:
        """One operation: message 3."""
        op = message.get("op")
        if op in FLUENT:
            getattr(self.mlflow, op)(**message["args"])
        elif op == "prepare_pytorch_model":
            self._loader(message)  # imports torch: seconds the stage should not wait for at its end
        elif op == "log_pytorch_model":
            self._log_pytorch_model(message)
        else:
            raise ValueError(f"unknown run writer operation {op!r}")

    def end(self, status: str, end_time: int | None) -> None:
        """Terminate the run: message 4 (``end_time`` None: now).

        ``mlflow.end_run`` does what leaving the fluent run did (system-metrics monitor, the
        active-run stack); the end time is then set to the stage's own."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        self.ended = True
        self.mlflow.end_run(status)
        if end_time is not None:
            self.mlflow.MlflowClient().set_terminated(self.run_id, status, end_time=end_time)

    def fail(self, status: str = "FAILED") -> None:
        """Terminate the run after an error (FAILED; KILLED when the stage is gone), where the store
        still answers; never one that has ended. MLflow's own exit handler would end it FINISHED."""
        if self.run_id is None or self.ended:
            return
        self.ended = True
        try:
            if self.mlflow.active_run() is not None:
                self.mlflow.end_run(status)
            else:
                self.mlflow.MlflowClient().set_terminated(self.run_id, status)
        except Exception:  # the store itself failed: the traceback already says why
            pass

    def _loader(self, message: dict[str, Any]):
        import importlib

        import mlflow.pytorch  # noqa: F401 (imported here, before the model is there to log)

        module, _, function = message["loader"].partition(":")
        return getattr(importlib.import_module(module), function)

    def _log_pytorch_model(self, message: dict[str, Any]) -> None:
        import numpy as np

        loaded = self._loader(message)(message["checkpoint"])
        net = loaded[0] if isinstance(loaded, tuple) else loaded
        example = np.zeros(message["input_example_shape"], dtype=message["input_example_dtype"])
        self.mlflow.pytorch.log_model(net, name=message["name"], input_example=example,
                                      pip_requirements=message["pip_requirements"])


class Lines:
    """The stage's messages, one JSON line at a time; None at end of file or when the stage
    process is gone (reparented: its pipe may stay open in workers it forked)."""

    def __init__(self, fd: int, parent: int) -> None:
        self.fd, self.parent, self.buffer = fd, parent, b""

    def parent_gone(self) -> bool:
        return os.getppid() != self.parent

    def next(self) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], PARENT_CHECK_S)
            if not ready:
                if self.parent_gone():
                    return None
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None  # a partial last line (the stage died writing it) is dropped
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def main() -> int:
    """Run the protocol on stdin; the run ID on stdout, everything else on stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ids = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # MLflow's prints go to stderr, which the stage drains (stdout is read at the end)
    lines = Lines(0, int(sys.argv[1]))  # the stage's PID: it may be gone before this line runs
    store = lines.next()
    if store is None:
        return 0
    writer = Writer(store)
    run = lines.next()
    if run is None or run.get("op") == "close":
        return 0
    sys.argv = [run.get("source_name") or ""]  # the stage's main file: mlflow.source.name and git tags
    try:
        _say(ids, writer.open(run))
        while (message := lines.next()) is not None:
            if message.get("op") == "end":
                writer.end(message["status"], message["end_time"])
                _say(ids, DONE)
                return 0
            writer.apply(message)
        _silence()  # the stage is gone, and nobody reads our output any more
        writer.end("KILLED", None)
    except BaseException:
        writer.fail("KILLED" if lines.parent_gone() else "FAILED")
        raise
    finally:
        with contextlib.suppress(OSError):
            ids.close()
    return 0


def _say(out, line: str) -> None:
    """One line to the stage; a stage that is gone reads nothing (its run ends KILLED at end of file)."""
    with contextlib.suppress(OSError):
        print(line, file=out, flush=True)


def _silence() -> None:
    """Send stdout and stderr to ``/dev/null``: writing to the pipes of a stage that is gone fails."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)


if __name__ == "__main__":
    raise SystemExit(main())
