"""MLflow tracking for every stage: one helper, one SQLite store inside the repository.

MLflow 3 refuses a plain ``./mlruns`` file store, so the store is ``sqlite:///mlflow.db``
(git-ignored) with artifacts under ``mlartifacts/``. Each stage run is tagged with the
git commit, the stage name and the ``dvc.lock`` hashes of the inputs it read.

The run is written by a child process, ``pipeline.core.run_writer`` (its docstring has the
protocol; ``pipeline.core.writer_process`` drives it): ``import mlflow`` and opening the store
cost each stage process about 3.5 s, which the child spends beside the stage's work instead of
before it. The stage logs through a ``RunRecorder`` (the calls of MLflow's fluent API it used,
plus ``log_pytorch_model``); times (the run's start and end, each metric's timestamp) are taken
in the stage when the call is made (``now_ms``), and paths are made absolute there. The stage
process waits until the writer has recorded the run, so the run is complete (and a failed writer
is an error) when DVC moves to the next stage. ``PIPELINE_MLFLOW_INPROCESS=1`` writes the run in
the stage process instead, as before the writer (to debug MLflow itself; the benchmark's
reference, ``benchmarks/bench_tracking.py``).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline.core import provenance
from pipeline.core.writer_process import InProcessWriter, RunWriterError, WriterProcess

__all__ = ["RunRecorder", "RunWriterError", "latest_run_id", "now_ms", "stage_run", "start_writer",
           "tracking_uri"]

EXPERIMENT = "pipeline"
ENV_URI = "MLFLOW_TRACKING_URI"
ENV_INPROCESS = "PIPELINE_MLFLOW_INPROCESS"


def tracking_uri(root: Path = Path(".")) -> str:
    """The tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else the repository's SQLite store."""
    return os.environ.get(ENV_URI) or f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


_last_ms = 0


def now_ms() -> int:
    """The time as MLflow records it, integer milliseconds since the epoch, and later than the
    previous reading by at least 1 ms.

    Why strictly increasing: the stage's calls return at once now, so several fall within one
    millisecond, where each used to take longer than that in MLflow; a metric logged twice at one
    step (``seconds`` by train's result and by the command) would then get one timestamp, and
    MLflow refuses the second for a logged model (a unique key of model, metric, timestamp, step).
    """
    global _last_ms
    _last_ms = max(int(time.time() * 1000), _last_ms + 1)
    return _last_ms


class RunRecorder:
    """What a stage logs to its run: the calls of MLflow's fluent API the stages use, same names
    and arguments, values converted as MLflow converts them (params and tags to ``str``, metrics
    to ``float``), each sent to the writer as it is made.

    A logged file is copied by the writer when it gets to it, before the stage process ends: log
    files that stay in place until then (the stage's outputs). ``run_id`` is set when the run
    has ended (after the ``with`` block of ``stage_run``).
    """

    def __init__(self, send: Callable[[dict], None]) -> None:
        self._send = send
        self.run_id: str | None = None

    def log_params(self, params: dict[str, Any]) -> None:
        self._fluent("log_params", params={k: str(v) for k, v in params.items()})

    def log_param(self, key: str, value: Any) -> None:
        self._fluent("log_param", key=key, value=str(value))

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self._fluent("log_metrics", metrics={k: _number(k, v) for k, v in metrics.items()},
                     step=_step(step), timestamp=now_ms())

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        self._fluent("log_metric", key=key, value=_number(key, value), step=_step(step), timestamp=now_ms())

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._fluent("set_tags", tags={k: str(v) for k, v in tags.items()})

    def set_tag(self, key: str, value: Any) -> None:
        self._fluent("set_tag", key=key, value=str(value))

    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._fluent("log_artifact", local_path=os.path.abspath(local_path), artifact_path=artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._fluent("log_artifacts", local_dir=os.path.abspath(local_dir), artifact_path=artifact_path)

    def log_pytorch_model(self, loader: Callable | str, checkpoint: str | os.PathLike,
                          input_example_shape: tuple[int, ...], pip_requirements: list[str],
                          name: str = "model", dtype: str = "float32") -> None:
        """``mlflow.pytorch.log_model(net, name, input_example=zeros(shape), pip_requirements)``,
        with the network the writer loads as ``loader(checkpoint)``: a module-level function or
        its ``module:function`` name (the writer imports it by name), returning the network or a
        tuple starting with it."""
        self._send({"op": "log_pytorch_model", "loader": _name(loader),
                    "checkpoint": os.path.abspath(checkpoint), "name": name,
                    "input_example_shape": [int(n) for n in input_example_shape], "input_example_dtype": dtype,
                    "pip_requirements": list(pip_requirements)})

    def prepare_pytorch_model(self, loader: Callable | str) -> None:
        """Have the writer import ``loader``'s module (torch) and ``mlflow.pytorch`` now, for a
        ``log_pytorch_model`` to come; as a ``module:function`` name, before the stage imports it."""
        self._send({"op": "prepare_pytorch_model", "loader": _name(loader)})

    def _fluent(self, op: str, **args: Any) -> None:
        self._send({"op": op, "args": args})


def _name(function: Callable | str) -> str:
    """``module:function``, as the writer imports it."""
    if isinstance(function, str):
        if ":" not in function:
            raise ValueError(f"a loader is named module:function, not {function!r}")
        return function
    return f"{function.__module__}:{function.__qualname__}"


def _number(key: str, value: Any) -> float:
    """A metric value as MLflow accepts it: a number, or a one-element array or tensor."""
    if not isinstance(value, numbers.Number) and hasattr(value, "item"):
        value = value.item()
    if not isinstance(value, numbers.Number):
        raise TypeError(f"MLflow metric {key!r}: {value!r} is not a number")
    return float(value)


def _step(step: Any) -> int | None:
    return None if step is None else int(step)


def start_writer(root: Path = Path(".")) -> WriterProcess | InProcessWriter:
    """Start the run writer now, for a stage that opens its run later (``stage_run(writer=)``).

    Use it as a context manager around the stage's work: a writer no run was opened in is told
    to go when the block ends (it exits by itself; nothing waits for it).

    Args:
        root: the repository root (for the store).
    """
    store = {"tracking_uri": tracking_uri(root), "experiment": EXPERIMENT,
             "artifact_location": (Path(root) / "mlartifacts").resolve().as_uri()}
    return InProcessWriter(store) if os.environ.get(ENV_INPROCESS) == "1" else WriterProcess(store)


@contextlib.contextmanager
def stage_run(stage: str, inputs: list[str], root: Path = Path("."),
              writer: WriterProcess | InProcessWriter | None = None) -> Iterator[RunRecorder]:
    """Open an MLflow run for ``stage`` tagged with its provenance; yield its ``RunRecorder``.

    The run starts now and ends when the block does: FINISHED, FAILED when the block raised,
    KILLED on Ctrl-C (``KeyboardInterrupt``). A writer that failed is a ``RunWriterError``; when the
    block itself raised, its exception is the one raised and the writer's failure is printed.

    Args:
        stage: the DVC stage name.
        inputs: the paths the stage reads, looked up in ``dvc.lock``.
        root: the repository root (for the store and the git commit).
        writer: a writer ``start_writer`` started earlier; default: one started now.
    """
    start = now_ms()
    writer = writer or start_writer(root)
    try:
        tags = {"stage": stage, "git_commit": provenance.git_commit(Path(root))}
        for path, md5 in provenance.lock_hashes(inputs, Path(root) / "dvc.lock").items():
            tags[f"dvc.input.{path}"] = md5
        writer.open({"run_name": stage, "tags": tags, "start_time": start,
                     "source_name": sys.argv[0] if sys.argv else None})
    except BaseException:
        writer.abandon()
        raise
    recorder = RunRecorder(writer.send)
    try:
        yield recorder
    except RunWriterError:
        raise  # the writer stopped: the run is as far as it got
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            recorder.run_id = writer.finish(status, now_ms())
        except RunWriterError as failure:
            print(f"warning: {failure}", file=sys.stderr)
        raise
    recorder.run_id = writer.finish("FINISHED", now_ms())


def latest_run_id(stage: str, root: Path = Path(".")) -> str:
    """The MLflow run ID of the latest run of an earlier stage (``train``), else ``unknown``.

    Args:
        stage: the stage whose run is wanted.
        root: the repository root (for the store).
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(root))
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT], filter_string=f"tags.stage = '{stage}'",
                              order_by=["attributes.start_time DESC"], max_results=1, output_format="list")
    return runs[0].info.run_id if runs else "unknown"
