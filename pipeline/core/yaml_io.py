"""Reading the YAML files people edit by hand (``params.yaml``, the V&V plan, design items).

PyYAML's ``safe_load`` keeps the last of two equal keys without a word (``epochs: 40`` then
``epochs: 1`` trains for one epoch), raises a traceback on a file that is not UTF-8 and
overflows the stack on absurd nesting. ``load_yaml`` turns each into one ``UserError`` that
names the file, and for a duplicate key both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import UserError


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, second: int, top_level: bool) -> None:
        super().__init__(key)
        self.key, self.first, self.second, self.top_level = key, first, second, top_level


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""

    _root = None

    def construct_document(self, node):
        self._root = node
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line, node is self._root)
                seen[key] = line
            except TypeError:  # an unhashable key: let the base class report it
                pass
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path, what: str = "file") -> Any:
    """Parse ``path`` strictly; every problem is a ``UserError`` naming the file.

    Args:
        path: the YAML file.
        what: what the file is, for the messages (e.g. "params file").
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                        f"save the {what} as UTF-8") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        kind = "section" if dup.top_level else "key"
        raise UserError(f"{path}: duplicate {kind} {dup.key!r} on lines {dup.first} and {dup.second}; "
                        "YAML would silently keep the last one") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a {what}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None


def load_model_list(path: Path, model: type, what: str = "data file") -> list:
    """A YAML list of ``model`` entries (pydantic), each with an ``id`` or ``ref``; a malformed or
    repeated entry is a ``UserError`` naming the file and the entry.

    Args:
        path: the YAML file.
        model: the pydantic model of one entry.
        what: what the file is, for the messages.
    """
    from pydantic import ValidationError

    raw = load_yaml(path, what) or []
    if not isinstance(raw, list):
        raise UserError(f"{path}: expected a list of entries")
    items = []
    for index, entry in enumerate(raw):
        try:
            items.append(model.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("id") or entry.get("ref") if isinstance(entry, dict) else None
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}"
                                 for e in exc.errors())
            raise UserError(f"{path}: entry {name or index + 1} is not valid: {problems}") from None
    keys = [getattr(i, "id", None) or getattr(i, "ref") for i in items]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise UserError(f"{path}: entries given twice: {', '.join(twice)}")
    return items
