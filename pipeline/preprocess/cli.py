"""``python -m pipeline preprocess``: cases -> cache, fingerprint and patient-level splits."""

from __future__ import annotations

import argparse

from pipeline.command import Invocation, StageCommand
from pipeline.core.progress import bar


def source_of(inv: Invocation):
    """``preprocess.source`` with its folder: ``--source-path``, else the section's."""
    source = inv.params.preprocess.source
    return source.model_copy(update={"path": str(inv.args.source_path or source.path)})


def _run(inv: Invocation) -> dict:
    from pipeline.preprocess import stage

    params = inv.params.preprocess.model_copy(update={"source": source_of(inv)})
    paths = stage.PreprocessPaths(cache=inv.paths.out, splits=inv.paths.splits, fingerprint=inv.paths.fingerprint)
    return stage.run(params, paths, progress=bar("preprocess"))


def _log(inv: Invocation, summary: dict) -> None:
    params = inv.params.preprocess
    inv.mlflow.log_params({"source_format": params.source.format, "target_spacing_mm": params.target_spacing_mm,
                           "normalisation": params.normalisation.kind, "split_seed": params.splits.seed})
    inv.mlflow.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})
    inv.mlflow.log_artifact(str(inv.paths.fingerprint))
    inv.mlflow.log_artifact(str(inv.paths.splits))


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source-path", default=None, help="override preprocess.source.path")


COMMAND = StageCommand(
    name="preprocess", help="read, resample, normalise, crop and split the cases",
    paths={"out": ("cache", "cache folder (replaced atomically)"),
           "splits": ("splits", "splits JSON"),
           "fingerprint": ("fingerprint", "data-set fingerprint JSON")},
    core=_run, log=_log, options=_options, recorded_inputs=lambda inv: [source_of(inv).path],
    summary=lambda inv, s: (f"preprocess: {s['cases']} cases ({s['bad_cases']} bad), train/val/test "
                            f"{s['train_cases']}/{s['val_cases']}/{s['test_cases']} in {inv.seconds} s"))
register = COMMAND.register
