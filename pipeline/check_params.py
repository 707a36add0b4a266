"""``python -m pipeline check-params``: validate the whole of ``params.yaml`` and nothing else.

``make repro`` runs it before ``dvc repro``: DVC runs a stage only when its own section
changed, so without this a misspelt key or section (``trian:``) would pass silently whenever no
stage needs to run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.params import load_params


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check-params", help="validate params.yaml (every section) and exit")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    load_params(Path(args.params))
    print(f"{args.params}: valid")
    return 0
