"""``params.yaml``: one pydantic model per stage section, validated before any work starts.

Each stage reads only its own section (``load_section``), but the whole file is
validated every time, so a typo anywhere is reported before a long stage runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError, model_validator

from pipeline.cohort.params import CohortParams
from pipeline.compress.params import CompressParams
from pipeline.deid.params import DeidParams
from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml
from pipeline.export.params import ExportParams
from pipeline.core.params_base import StrictModel
from pipeline.preprocess.params import PreprocessParams
from pipeline.techfile.params import TechfileParams
from pipeline.train.params import TrainParams
from pipeline.verify.params import VerifyParams

DEFAULT_PATH = Path("params.yaml")
Section = TypeVar("Section", bound=StrictModel)


class Params(StrictModel):
    """The whole of ``params.yaml``. Add one field per stage section."""

    cohort: CohortParams
    deid: DeidParams
    preprocess: PreprocessParams
    train: TrainParams
    compress: CompressParams
    export: ExportParams
    verify: VerifyParams
    techfile: TechfileParams

    @model_validator(mode="after")
    def _copies_agree(self) -> "Params":
        """Knobs two sections must share: the parity gate the compress stage selects runtimes by,
        and the sliding windows it measures candidates with (those the released files carry)."""
        pairs = [("compress.sw_overlap", self.compress.sw_overlap, "export.sw_overlap", self.export.sw_overlap),
                 ("compress.sw_batch_size", self.compress.sw_batch_size, "export.sw_batch_size",
                  self.export.sw_batch_size),("compress.selection.parity_atol", self.compress.selection.parity_atol,
                  "export.parity_atol", self.export.parity_atol),
                 ("compress.selection.max_argmax_mismatches", self.compress.selection.max_argmax_mismatches,
                  "export.max_argmax_mismatches", self.export.max_argmax_mismatches)]
        for left, a, right, b in pairs:
            if a != b:
                raise ValueError(f"{left} = {a} must equal {right} = {b}")
        return self


def load_params(path: Path = DEFAULT_PATH) -> Params:
    """Read and validate ``params.yaml``; raise ``UserError`` naming every bad key."""
    return validate_params(_read_yaml(Path(path)), source=str(path))


def load_section(name: str, path: Path = DEFAULT_PATH) -> Any:
    """Validate the whole file, then return the section a stage reads."""
    return getattr(load_params(path), name)


def validate_params(data: Any, source: str = "params.yaml") -> Params:
    """Validate an already parsed mapping; errors name key, value and what is allowed."""
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, data, source)) from None


def format_validation_error(exc: ValidationError, data: Any, source: str) -> str:
    """One line per problem: ``source: key.path = value: what is allowed``."""
    lines = [f"{source} is not valid ({exc.error_count()} problem(s)):"]
    for err in exc.errors(include_url=False):
        key = ".".join(str(part) for part in err["loc"]) or "<top level>"
        lines.append(f"  {key} = {_value_at(data, err)!r}: {_allowed(err)}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise UserError(f"{path} not found: run from the repository root or pass --params PATH")
    return load_yaml(path, "params file") or {}


def _value_at(data: Any, err: dict) -> Any:
    if err["type"] == "missing":
        return "<missing>"
    return err.get("input")


def _allowed(err: dict) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (not allowed here; check the spelling against the documented keys)"
    if kind == "missing":
        return "required key is missing"
    return err["msg"]
