"""``params.yaml``: one pydantic model per stage section, validated before any work starts.

Each stage reads its own section (and ``paths``), but the whole file is validated every time,
so a typo anywhere is reported before a long stage runs. Knobs two sections must share are
checked to agree (``Params._copies_agree``). A knob whose wrong value would give a plausible
wrong result (a probability above 1, a range given high to low, a patch of 0 voxels, an external
cohort that is not held out) is refused by name, never clipped or ignored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError, model_validator

from pipeline.cohort.params import CohortParams
from pipeline.compress.params import CompressParams
from pipeline.deid.params import DeidParams
from pipeline.core.errors import UserError
from pipeline.core.yaml_io import load_yaml
from pipeline.export.params import ExportParams
from pipeline.paths import Paths
from pipeline.core.params_base import StrictModel
from pipeline.preprocess.params import PreprocessParams
from pipeline.techfile.params import TechfileParams
from pipeline.train.params import TrainParams
from pipeline.verify.params import VerifyParams

DEFAULT_PATH = Path("params.yaml")
Section = TypeVar("Section", bound=StrictModel)


class Params(StrictModel):
    """The whole of ``params.yaml``. Add one field per stage section."""

    paths: Paths
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
        """Knobs several sections must share: the sliding windows (training's validation picks the
        epoch, compress measures candidates, export and verify run the released files: one
        setting, or the epoch and the candidate are chosen under other conditions than those that
        ship), and the parity gate the compress stage selects runtimes by. Then the rules across
        sections: one grid for spacing, patch and strides; sites that can be told apart and an
        external cohort that is held out."""
        c, e, t = self.compress, self.export, self.train
        pairs = [("train.sw_overlap", t.sw_overlap, "export.sw_overlap", e.sw_overlap),
                 ("train.sw_batch_size", t.sw_batch_size, "export.sw_batch_size", e.sw_batch_size),
                 ("compress.sw_overlap", c.sw_overlap, "export.sw_overlap", e.sw_overlap),
                 ("compress.sw_batch_size", c.sw_batch_size, "export.sw_batch_size", e.sw_batch_size),
                 ("compress.selection.parity_atol", c.selection.parity_atol, "export.parity_atol", e.parity_atol),
                 ("compress.selection.max_argmax_mismatches", c.selection.max_argmax_mismatches,
                  "export.max_argmax_mismatches", e.max_argmax_mismatches)]
        differ = [f"{left} = {a} must equal {right} = {b}" for left, a, right, b in pairs if a != b]
        differ += _geometry_problems(self) + _site_problems(self)
        if differ:
            raise ValueError("; ".join(differ))
        return self


def _geometry_problems(params: Params) -> list[str]:
    """The spacing, the teacher's patch and every student's strides describe the same grid."""
    t, problems = params.train, []
    spacing = params.preprocess.target_spacing_mm
    if len(spacing) != t.network.spatial_dims:
        problems.append(f"preprocess.target_spacing_mm = {spacing} needs train.network.spatial_dims = "
                        f"{t.network.spatial_dims} values")
    for index, candidate in enumerate(params.compress.candidates):
        if candidate.network is None:
            continue
        factor = math.prod(candidate.network.strides)
        if any(size % factor for size in t.patch_size):  # the student trains on the teacher's patches
            problems.append(f"compress.candidates.{index}.network.strides = {candidate.network.strides}: their "
                            f"product {factor} must divide train.patch_size = {t.patch_size}")
    return problems


def _site_problems(params: Params) -> list[str]:
    """Sites are told apart by InstitutionName (``pipeline.data.dicom``): when preprocess reads the
    de-identified cohort, the names must survive de-identification and the external cohort must be
    held out, or it would silently be trained and validated on."""
    source, splits = params.preprocess.source, params.preprocess.splits
    if source.format != "dicom" or source.path != params.paths.deid:
        return []
    problems = []
    needs = ["preprocess.splits.stratify_by = 'site'"] if splits.stratify_by == "site" else []
    needs += [f"preprocess.splits.external_sites = {splits.external_sites}"] if splits.external_sites else []
    if needs and not params.deid.options.retain_institution_identity:
        problems.append(f"{' and '.join(needs)} need(s) deid.options.retain_institution_identity = true "
                        f"(sites are told apart by InstitutionName, which de-identification removes)")
    if params.deid.source != params.paths.raw:  # another DICOM folder: its sites are not the cohort's
        return problems
    external = [s.institution for s in params.cohort.external.sites] if params.cohort.external else []
    known = {s.institution for s in params.cohort.sites} | set(external)
    missing = [name for name in external if name not in splits.external_sites]
    unknown = [name for name in splits.external_sites if name not in known]
    if missing:
        problems.append(f"preprocess.splits.external_sites = {splits.external_sites} must name every "
                        f"cohort.external site's institution (missing {missing}): else it is trained on")
    if unknown:
        problems.append(f"preprocess.splits.external_sites names {unknown}, no institution of cohort.sites "
                        f"or cohort.external.sites")
    return problems


def params_file(args) -> Path:
    """The params file a command reads: ``--params``, else ``params.yaml`` in ``--root`` (the
    commands that read a repository elsewhere) or in the working folder."""
    given = getattr(args, "params", None)
    return Path(given) if given else Path(getattr(args, "root", None) or ".") / DEFAULT_PATH


def load_params(path: Path = DEFAULT_PATH) -> Params:
    """Read and validate ``params.yaml``; raise ``UserError`` naming every bad key."""
    return validate_params(_read_yaml(Path(path)), source=str(path))


def repo_paths(root: Path) -> Paths:
    """The ``paths`` of the ``params.yaml`` at ``root`` (see ``load_paths``)."""
    return load_paths(Path(root) / DEFAULT_PATH)


def load_paths(path: Path) -> Paths:
    """The ``paths`` section of a params file, validated alone: for the commands that read a
    repository's records (trace, release governance) rather than run a stage."""
    data = _read_yaml(Path(path))
    section = data.get("paths") if isinstance(data, dict) else None
    if section is None:
        raise UserError(f"{path} has no paths section (where the stages' records are)")
    try:
        return Paths.model_validate(section)
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, section, f"{path} paths")) from None


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
        if not err["loc"]:  # a rule across sections: the message names the keys
            lines.append(f"  {_allowed(err)}")
            continue
        key = ".".join(str(part) for part in err["loc"])
        if _rule_of_a_section(err):  # the message names the knobs; the section is not dumped
            lines.append(f"  {_joined(key, err['input'], _allowed(err))}")
            continue
        lines.append(f"  {key} = {_value_at(data, err)!r}: {_allowed(err)}")
    return "\n".join(lines)


def _rule_of_a_section(err: dict) -> bool:
    """A rule across the knobs of one section (or of a list of them): its input is the whole
    section, which the line names but does not print."""
    value = err.get("input")
    nested = isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value))
    return err["type"] == "value_error" and nested


def _joined(key: str, section: Any, message: str) -> str:
    """``preprocess`` + ``crop_threshold = 1.5: ...`` -> ``preprocess.crop_threshold = 1.5: ...``
    when the message starts with a knob of the section; else ``preprocess: message``."""
    first = message.split(" ", 1)[0].split(".", 1)[0]
    return f"{key}.{message}" if isinstance(section, dict) and first in section else f"{key}: {message}"


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
    return err["msg"].removeprefix("Value error, ")
