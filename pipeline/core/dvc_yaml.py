"""``dvc.yaml`` as DVC sees it, read without DVC: ``${section.key}`` references resolved from the
``params.yaml`` beside it.

The pipeline's paths live in ``params.yaml`` (``paths:``) and ``dvc.yaml`` names them through
DVC's templating. The readers of ``dvc.yaml`` outside DVC (the trace graph, the privacy check
of the team remote) run inside ``dvc repro`` and must not take DVC's repository lock, and DVC's
own resolver (``dvc.parsing``) is not a public API; the pipeline uses only plain references to
scalar values of ``params.yaml``, which is all this resolves. Anything else (``foreach``,
``vars``, other files, expressions) is refused with a message rather than read wrongly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml

REFERENCE = re.compile(r"\$\{\s*([^}]*?)\s*\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def read_pipeline(dvc_yaml: Path, params_file: Path | None = None) -> dict:
    """The parsed ``dvc.yaml`` with every ``${a.b}`` replaced by ``params.yaml``'s value.

    Args:
        dvc_yaml: the pipeline definition.
        params_file: the values' file; default ``params.yaml`` beside ``dvc_yaml``.
    """
    spec = load_yaml(Path(dvc_yaml), "pipeline definition") or {}
    if not isinstance(spec, dict):
        raise UserError(f"{dvc_yaml} is not a mapping of stages")
    if "vars" in spec or any(isinstance(s, dict) and ("foreach" in s or "matrix" in s)
                             for s in (spec.get("stages") or {}).values()):
        raise UserError(f"{dvc_yaml}: vars, foreach and matrix are not supported by the pipeline's readers")
    params_file = Path(params_file) if params_file else Path(dvc_yaml).parent / "params.yaml"
    values = (load_yaml(params_file, "params file") or {}) if params_file.is_file() else {}
    return resolve(spec, values, str(dvc_yaml))


def resolve(node: Any, values: dict, source: str = "dvc.yaml") -> Any:
    """``node`` with each ``${a.b}`` in its strings (keys included) replaced from ``values``."""
    if isinstance(node, dict):
        return {resolve(k, values, source): resolve(v, values, source) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, values, source) for v in node]
    if isinstance(node, str) and "${" in node:
        return REFERENCE.sub(lambda m: str(_lookup(m.group(1), values, source)), node)
    return node


def _lookup(name: str, values: dict, source: str) -> Any:
    if not NAME.match(name):
        raise UserError(f"{source}: ${{{name}}} is not a plain params.yaml reference")
    node: Any = values
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{source}: ${{{name}}} is not in params.yaml")
        node = node[part]
    if isinstance(node, (dict, list)) or node is None:
        raise UserError(f"{source}: ${{{name}}} is not a single value in params.yaml")
    return node

