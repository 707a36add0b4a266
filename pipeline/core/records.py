"""Stage records: the JSON files one stage writes and another reads, parsed through a model.

Each record has a pydantic model beside the stage that writes it (``pipeline/<stage>/record.py``)
and one ``load_<record>(path)`` there. A stage validates a record before it writes it
(``check_record``), and every reader parses it back (``load_record``), so a missing or misspelt
field fails where it is written or with a message naming the file and the field, never as a
``KeyError`` three stages later.

The written bytes are the writer's own ``write_json`` of its own dict: a model checks a record,
it never re-serialises it (the DVC output hashes stay what they were).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict, ValidationError

from pipeline.core.atomic import dumps_json, write_json
from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel

MAX_SHOWN = 5  # validation errors shown in a message

R = TypeVar("R", bound="RecordModel")


class RecordModel(StrictModel):
    """A stage record (or a part of one): unknown keys are errors, types are not coerced, frozen.

    Unlike params, a record may hold NaN: it is a measured value the writer recorded (a
    validation Dice of an epoch without validation), not a setting that would give wrong results.
    """

    model_config = ConfigDict(allow_inf_nan=True)


def load_record(path: Path, model: type[R], what: str, writer: str) -> R:
    """Parse the record at ``path`` through ``model``.

    Args:
        path: the JSON file.
        model: its record model.
        what: what it is, for messages (e.g. ``V&V results``).
        writer: the stage that writes it, for the message when it is missing.
    Raises:
        UserError: the file is missing, or is not valid JSON of the model (naming each bad field).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"missing input: {path} ({what}) not found; run the {writer} stage (dvc repro)")
    return parse_record(path.read_bytes(), path, model, what, writer)


def parse_record(content: bytes, path: Path, model: type[R], what: str, writer: str) -> R:
    """Parse a record's bytes (read from ``path``, or a copy of it) through ``model``; a ``UserError``
    naming the file and each bad field when they are not a valid record."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise UserError(f"{path} is not a valid {what} record ({model.__name__}) of this pipeline version: "
                        f"{problems(exc)}; run the {writer} stage again (dvc repro)") from None


def check_record(data: Any, model: type[R], what: str) -> R:
    """Validate what a stage is about to write: the exact JSON text ``write_json`` writes.

    Raises ``ValueError`` (a bug in the writer, not a user's mistake) naming the bad fields.
    """
    try:
        return model.model_validate_json(dumps_json(data))
    except ValidationError as exc:
        raise ValueError(f"the {what} about to be written is not a valid {model.__name__}: "
                         f"{problems(exc)}") from None


def write_record(path: Path, data: Any, model: type[RecordModel], what: str, shared: bool = False) -> None:
    """``check_record``, then ``write_json`` of the same ``data`` (same bytes as before)."""
    check_record(data, model, what)
    write_json(Path(path), data, shared=shared)


def problems(exc: ValidationError) -> str:
    """``field.path: message`` for the first few errors of a validation."""
    errors = exc.errors()
    shown = "; ".join(f"{'.'.join(str(part) for part in e['loc']) or '<top level>'}: {e['msg']}"
                      for e in errors[:MAX_SHOWN])
    return shown + (f" (and {len(errors) - MAX_SHOWN} more)" if len(errors) > MAX_SHOWN else "")
