"""``python -m pipeline check-params``: validate the whole of ``params.yaml`` and nothing else.

``make repro`` runs it before ``dvc repro``: DVC runs a stage only when its own section
changed, so without this a misspelt key or section (``trian:``) would pass silently whenever no
stage needs to run.
"""

from __future__ import annotations

import argparse

from pipeline.core.errors import UserError
from pipeline.params import load_params, params_file


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check-params", help="validate params.yaml (every section) and exit")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    path = params_file(args)
    params = load_params(path)
    plan = path.parent / params.verify.plan  # read by verify only, after training: named now
    if not plan.is_file():
        raise UserError(f"{path}: verify.plan = {params.verify.plan}: no such file (relative to {path.parent})")
    print(f"{path}: valid")
    return 0
