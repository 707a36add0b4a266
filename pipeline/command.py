"""The shape every stage command shares, in one place.

A stage command (``python -m pipeline train``) validates the whole ``params.yaml``, takes each
path from the ``paths`` section (an option may override it: tests and one-off runs), refuses
to start when an input is missing, runs the stage's core, times it, records one MLflow run
(unless ``--no-mlflow``), refuses to end successfully when the pipeline's code or params
changed while it ran (``pipeline.core.source_guard``: DVC would record the new ones) and
prints a summary. What differs between stages is data: a
``StageCommand`` naming the paths, the inputs, the core call, what goes into MLflow and the
summary line. ``pipeline/<stage>/cli.py`` holds only that.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from pipeline.core import source_guard
from pipeline.core.errors import UserError
from pipeline.params import Params, load_params, params_file


@dataclass
class Invocation:
    """One run of a stage command: validated params, resolved paths, the parsed options, and the
    recorder of the stage's MLflow run (``pipeline.core.tracking.RunRecorder``: the fluent calls
    ``log_params``, ``log_metrics``, ``set_tags``, ``log_artifact`` ...; None with ``--no-mlflow``)."""

    params: Params
    paths: SimpleNamespace
    args: argparse.Namespace
    mlflow: Any = None
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)  # what the core found that the log and summary show


@dataclass(frozen=True)
class StageCommand:
    """What one stage command declares; ``register`` builds its parser and its ``main``.

    Attributes:
        name: the sub-command and DVC stage name.
        help: one line for ``--help``.
        paths: option name -> (field of ``params.paths``, help); ``--<option>`` overrides it.
        core: runs the stage and returns its result (called inside the MLflow run when logging).
        summary: the line(s) printed at the end, from the invocation (with ``seconds``) and result.
        inputs: options naming files or folders that must exist before the core starts.
        missing: what to run when an input is missing (``run the train stage first``).
        recorded_inputs: options recorded as the MLflow run's inputs (their ``dvc.lock`` hashes),
            or a function of the invocation giving those paths; default: ``inputs``.
        log: records params and metrics in the open MLflow run (after the core).
        options: adds stage-specific options to the parser.
        root: paths are relative to ``--root`` (the document stages), else to the working folder.
        records: whether this process records the MLflow run (under DDP only rank 0 does).
    """

    name: str
    help: str
    paths: dict[str, tuple[str, str]]
    core: Callable[[Invocation], dict]
    summary: Callable[[Invocation, dict], str]
    inputs: tuple[str, ...] = ()
    missing: str = "run the earlier stages first (dvc repro)"
    recorded_inputs: tuple[str, ...] | Callable[[Invocation], list[str]] | None = None
    log: Callable[[Invocation, dict], None] | None = None
    options: Callable[[argparse.ArgumentParser], None] | None = None
    root: bool = field(default=False)  # paths relative to ``--root`` (document stages), else to the cwd
    records: Callable[[], bool] = lambda: True  # whether this process records the MLflow run (DDP: rank 0)

    def register(self, sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
        """Add this command's parser: one option per path (default: ``params.yaml``), ``--no-mlflow``."""
        parser = sub.add_parser(self.name, help=self.help)
        for option, (name, text) in self.paths.items():
            parser.add_argument(f"--{option}", dest=_dest(option), default=None, metavar="PATH",
                                help=f"{text} (default: paths.{name} of params.yaml)")
        if self.root:
            parser.add_argument("--root", default=".", help="repository root holding the recorded run")
        parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
        if self.options:
            self.options(parser)
        parser.set_defaults(func=self.main)
        return parser

    def main(self, args: argparse.Namespace) -> int:
        """Validate params, resolve and check paths, run (in an MLflow run), print the summary."""
        source = source_guard.snapshot(params_file(args))
        params = load_params(params_file(args))
        inv = Invocation(params, self.resolve(params, args), args)
        for option in self.inputs:
            path = getattr(inv.paths, _dest(option))
            if not path.exists():
                raise UserError(f"{path} not found: {self.missing}")
        start = time.perf_counter()
        if args.no_mlflow or not self.records():
            result = self.core(inv)
            inv.seconds = round(time.perf_counter() - start, 2)
        else:
            from pipeline.core.tracking import stage_run

            root = Path(getattr(args, "root", "."))
            with stage_run(self.name, inputs=self._recorded(inv), root=root) as mlflow:
                inv.mlflow = mlflow
                result = self.core(inv)
                inv.seconds = round(time.perf_counter() - start, 2)
                if self.log:
                    self.log(inv, result)
                mlflow.log_metric("seconds", inv.seconds)
        source_guard.check_unchanged(source, params_file(args))
        line = self.summary(inv, result)
        if line:
            print(line)
        return 0

    def _recorded(self, inv: Invocation) -> list[str]:
        """The run's inputs as ``dvc.lock`` names them (relative to the root)."""
        if callable(self.recorded_inputs):
            return self.recorded_inputs(inv)
        options = self.inputs if self.recorded_inputs is None else self.recorded_inputs
        return [str(getattr(inv.args, _dest(o)) or getattr(inv.params.paths, self.paths[o][0])) for o in options]

    def resolve(self, params: Params, args: argparse.Namespace) -> SimpleNamespace:
        """Each path option: the command-line value, else ``params.paths``; under ``--root`` when set."""
        root = Path(getattr(args, "root", ".")) if self.root else None
        resolved = {}
        for option, (name, _) in self.paths.items():
            given = getattr(args, _dest(option))
            path = Path(given) if given else Path(getattr(params.paths, name))
            resolved[_dest(option)] = path if root is None or given else root / path
        return SimpleNamespace(**resolved)


def _dest(option: str) -> str:
    return option.replace("-", "_")
