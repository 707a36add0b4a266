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
    _check_plan_classes(plan, params.preprocess.source.class_names, params.verify.plan)
    print(f"{path}: valid")
    return 0


def _check_plan_classes(plan, classes: list[str], name: str) -> None:
    """A criterion naming a class the label map does not have fails now, not after training (the
    plan itself is validated by the verify stage; only its ``class`` keys are read here)."""
    from pipeline.core.yaml_io import load_yaml

    data = load_yaml(plan, "V&V plan")
    criteria = data.get("criteria") if isinstance(data, dict) else None
    wrong = [f"{c.get('id')} names class {c['class']!r}" for c in criteria or []
             if isinstance(c, dict) and "class" in c and c["class"] not in classes]
    if wrong:
        raise UserError(f"{name} (verify.plan): {'; '.join(wrong)}; preprocess.source.classes are {classes}")
