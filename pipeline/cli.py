"""``python -m pipeline <command>``: one sub-command per stage, each a thin wrapper.

Every command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments. User mistakes raise ``UserError``;
they are printed as one message and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.core.errors import UserError

# Modules that contribute sub-commands, in pipeline order.
COMMAND_MODULES = (
    "pipeline.check_params",
    "pipeline.profile.cli",     # profile NAME: params.yaml for a data profile (profiles/)
    "pipeline.cohort.cli",
    "pipeline.deid.cli",
    "pipeline.preprocess.cli",
    "pipeline.train.cli",
    "pipeline.compress.cli",
    "pipeline.export.cli",
    "pipeline.predict.cli",
    "pipeline.monitoring.cli",  # monitor verify | review | summary: the use log of predict
    "pipeline.verify.cli",
    "pipeline.trace.cli",
    "pipeline.techfile.cli",
    "pipeline.governance.cli",  # release approve | revoke | verify | diff, soup review | audit
)

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Regulatory-grade medical-imaging segmentation pipeline.")
    parser.add_argument("--params", default=None,
                        help="path of params.yaml (default: params.yaml in --root, or in the working folder)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(result or 0)
