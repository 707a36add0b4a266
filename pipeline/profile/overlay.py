"""The pure core of ``profile``: a profile file's model, and ``params.yaml``'s text with it applied.

Nothing here reads or writes a file: ``switch`` takes the texts and returns the texts to write.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.params import format_validation_error, validate_params

BASE_FILE = "base.params.yaml"   # in the profiles folder, only while a profile with settings is active
HEADER = re.compile(r"^# profile: ([\w.-]+) .*\n.*\[body sha256 ([0-9a-f]{16})\]\n")
# the stages a profile's data may enter the pipeline at (dvc.yaml's first three)
ENTRY_STAGES = ("cohort", "deid", "preprocess")
KEY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")  # section.key[.key...]


class Profile(StrictModel):
    """One ``profiles/NAME.yaml``."""

    description: str = Field(min_length=1)
    starts_at: Literal["cohort", "deid", "preprocess"] = Field(
        default="cohort", description="the stage the data enters at; the stages before it are not part of the run")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="dotted params.yaml key -> the value replacing the base's")


@dataclass(frozen=True)
class Switch:
    """What ``switch`` decided: the new ``params.yaml`` text, the base to keep (None: remove the
    kept base, ``params.yaml`` is the base again) and the changed keys as ``key: old -> new``."""

    params_text: str
    base_text: str | None
    changes: list[str]


def parse_profile(text: str, name: str) -> tuple[Profile, dict[str, str]]:
    """The profile and each setting's end-of-line comment (shown beside the key in ``params.yaml``)."""
    try:
        data = _yaml().load(text)
    except Exception as exc:  # ruamel's errors have no common public base
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"profile {name} is not valid YAML: {problem}{where}") from None
    if not isinstance(data, dict):
        raise UserError(f"profile {name}: expected a mapping with description, starts_at and settings")
    try:
        profile = Profile.model_validate(_plain(data))
    except ValidationError as exc:
        raise UserError(format_validation_error(exc, _plain(data), f"profile {name}")) from None
    bad = [key for key in profile.settings if not KEY.fullmatch(key)]
    if bad:
        raise UserError(f"profile {name}: settings {bad} are not dotted params.yaml keys (section.key)")
    settings = data.get("settings") or {}
    comments = {key: _comment(settings, key) for key in profile.settings}
    return profile, {k: v for k, v in comments.items() if v}


def active_profile(params_text: str) -> str | None:
    """The name in ``params.yaml``'s header line; None for the base (no header)."""
    match = HEADER.match(params_text)
    return match.group(1) if match else None


def render(base_text: str, name: str, profile: Profile, comments: dict[str, str]) -> str:
    """``params.yaml`` for ``profile``: the base itself when it has no settings, else the base with
    each setting replaced (comments kept, a header line naming the profile)."""
    if not profile.settings:
        return base_text
    yml = _yaml()
    doc = yml.load(base_text)
    for key, value in profile.settings.items():
        parent, last = _parent(doc, key, name)
        parent[last] = _styled(value)
        _set_comment(parent, last, comments.get(key, f"profile {name}"))
    buffer = io.StringIO()
    yml.dump(doc, buffer)
    body = buffer.getvalue()
    header = (f"# profile: {name} (written by `python -m pipeline profile {name}` from profiles/{BASE_FILE} and\n"
              f"# profiles/{name}.yaml; `python -m pipeline profile demo` restores the base) [body sha256 {_digest(body)}]\n")
    return header + body


def edited(params_text: str) -> bool:
    """Whether a profile's ``params.yaml`` was changed after ``render`` wrote it (its header records
    the digest of the lines below it)."""
    match = HEADER.match(params_text)
    return bool(match) and _digest(params_text[match.end():]) != match.group(2)


def switch(params_text: str, kept_base: str | None, profiles: dict[str, str], name: str,
           force: bool = False) -> Switch:
    """Decide the texts that select profile ``name``.

    Args:
        params_text: the current ``params.yaml``.
        kept_base: ``profiles/base.params.yaml`` when it exists.
        profiles: profile name -> its file's text (every profile in the folder).
        name: the profile to select.
        force: discard edits made to a profile's ``params.yaml`` since it was written.
    """
    if name not in profiles:
        raise UserError(f"no profile {name!r}: profiles are {', '.join(sorted(profiles)) or 'none'} "
                        "(profiles/NAME.yaml)")
    active = active_profile(params_text)
    if active is None and kept_base is not None:
        raise UserError(f"params.yaml names no profile but profiles/{BASE_FILE} exists: restore params.yaml "
                        f"(git checkout params.yaml) or remove profiles/{BASE_FILE} if params.yaml is the base")
    if active is not None:
        if kept_base is None:
            raise UserError(f"params.yaml was written by profile {active} but its base profiles/{BASE_FILE} is "
                            "missing: restore it (git checkout) to switch profiles")
        if active not in profiles:
            raise UserError(f"params.yaml was written by profile {active}, which profiles/ no longer has")
        if edited(params_text) and not force:
            expected = render(kept_base, active, *parse_profile(profiles[active], active))
            keys = _differences(_parse(expected), _parse(params_text))
            raise UserError(f"params.yaml was edited since profile {active} wrote it ({', '.join(keys) or 'comments'}); "
                            f"switching would lose that: move the edit into profiles/{active}.yaml or "
                            f"profiles/{BASE_FILE}, or pass --force to discard it")
    base = kept_base if kept_base is not None else params_text
    profile, comments = parse_profile(profiles[name], name)
    new = render(base, name, profile, comments)
    validate_params(_parse(new), source=f"params.yaml with profile {name}")
    changes = _differences(_parse(params_text), _parse(new), show=True)
    return Switch(new, None if new == base else base, changes)


def repro_args(profile: Profile) -> list[str]:
    """``dvc repro``'s arguments for a profile: from the stage its data enters at, downstream only
    (the stages before it are not part of the run)."""
    if profile.starts_at == ENTRY_STAGES[0]:
        return []
    return ["--downstream", profile.starts_at]


def skipped_stages(profile: Profile) -> list[str]:
    """The stages before the one the profile's data enters at."""
    return list(ENTRY_STAGES[:ENTRY_STAGES.index(profile.starts_at)])


def missing_inputs(pipeline: dict, profile: Profile, exists) -> list[str]:
    """Declared inputs of the stages a profile runs that only a skipped stage writes and that are absent.

    DVC hashes every declared input of a stage it runs (its run cache), so such a stage cannot run
    while they are missing, even with ``--allow-missing``.

    Args:
        pipeline: ``dvc.yaml`` with its references resolved (``pipeline.core.dvc_yaml.read_pipeline``).
        profile: the active profile.
        exists: path (relative to the repository root) -> whether it exists.
    """
    stages = pipeline.get("stages") or {}
    skipped = skipped_stages(profile)
    written = {path: name for name in skipped for key in ("outs", "metrics", "plots")
               for path in _paths(stages.get(name, {}).get(key))}
    out = []
    for name, stage in stages.items():
        if name in skipped:
            continue
        for dep in _paths(stage.get("deps")):
            if dep in written and not exists(dep) and f"{dep} ({written[dep]})" not in out:
                out.append(f"{dep} ({written[dep]})")
    return out


def entry_source(profile: Profile, params: dict) -> tuple[str, str] | None:
    """The setting naming the folder the profile's data is read from, and its value: the entry
    stage's source parameter (``deid.source``, ``preprocess.source.path``); None from ``cohort``."""
    if profile.starts_at == "deid":
        return "deid.source", str((params.get("deid") or {}).get("source"))
    if profile.starts_at == "preprocess":
        return "preprocess.source.path", str(((params.get("preprocess") or {}).get("source") or {}).get("path"))
    return None


def _paths(entries: Any) -> list[str]:
    return [str(key) for entry in entries or [] for key in (entry if isinstance(entry, dict) else [entry])]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _yaml() -> YAML:
    yml = YAML()  # round trip: comments, key order, flow style and quotes kept
    yml.indent(mapping=2, sequence=4, offset=2)
    yml.width = 4096
    yml.preserve_quotes = True
    yml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yml


def _parse(text: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"params.yaml is not valid YAML: {exc}".splitlines()[0]) from None


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (for pydantic and comparisons)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _styled(value: Any) -> Any:
    """A setting's value as ruamel writes it: mappings and lists in flow style ({...}, [...])."""
    if isinstance(value, dict):
        out = CommentedMap((k, _styled(v)) for k, v in value.items())
        out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        out = CommentedSeq(_styled(v) for v in value)
        out.fa.set_flow_style()
        return out
    return value


def _parent(doc: Any, key: str, name: str) -> tuple[dict, str]:
    """The mapping that holds the dotted ``key``'s last part; every part before it must exist."""
    *head, last = key.split(".")
    node = doc
    for index, part in enumerate(head):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"profile {name}: setting {key}: params.yaml has no {'.'.join(head[:index + 1])}")
        node = node[part]
    if not isinstance(node, dict):
        raise UserError(f"profile {name}: setting {key}: {'.'.join(head)} is not a mapping")
    return node, last


def _comment(settings: Any, key: str) -> str | None:
    """The end-of-line comment of one setting in the profile file, without ``#``."""
    if not isinstance(settings, CommentedBase):
        return None
    entry = settings.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    if token is None:
        return None
    first = token.value.strip().split("\n", 1)[0].strip()
    return first.lstrip("#").strip() or None


def _set_comment(parent: CommentedMap, key: str, text: str) -> None:
    """Replace the end-of-line comment of ``key`` (and the comment lines continuing it, which
    explained the base's value) by ``text``; blank lines and later comments stay."""
    entry = parent.ca.items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    if token is None:
        parent.yaml_add_eol_comment(f"# {text}", key)
        return
    lines = token.value.split("\n")
    column = token.column  # continuation lines are aligned with the comment; a comment on the next keys is not
    rest = 1
    while rest < len(lines) and lines[rest].lstrip().startswith("#") and _indent(lines[rest]) == column:
        rest += 1
    token.value = "\n".join([f"# {text}", *lines[rest:]])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _differences(old: Any, new: Any, show: bool = False, prefix: str = "") -> list[str]:
    """Leaf keys whose values differ (``key: old -> new`` with ``show``), in file order."""
    if isinstance(old, dict) and isinstance(new, dict) and not _is_leaf(old, new):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            out += _differences(old.get(key, _ABSENT), new.get(key, _ABSENT), show, f"{prefix}{key}.")
        return out
    if old == new:
        return []
    key = prefix[:-1]
    if show and (old is _ABSENT or new is _ABSENT):
        return [f"{key}: {'(not set)' if old is _ABSENT else _short(old)} -> "
                f"{'(not set)' if new is _ABSENT else _short(new)}"]
    return [f"{key}: {_short(old)} -> {_short(new)}" if show else key]


_ABSENT = object()  # a key one side does not have


def _is_leaf(old: dict, new: dict) -> bool:
    """A mapping compared as one value: a reader's ``source``, whose keys depend on its format."""
    return old.get("format") != new.get("format")


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value is not None else "null"
