"""IEC 62304 5.4-5.5 from the source of what ships: the units of the ``predict`` command.

The software that ships with a model is the import closure of its entry module (the
``predict`` command), read statically with ``ast`` (lazy imports inside functions included), so
the detailed design is always the code of this commit, never a description typed beside it. Per
unit: purpose (module docstring), public functions and classes with their signatures, the units
it uses, the SOUP it imports, size and SHA-256. The test modules that import a unit, with their
outcomes in the recorded test report, are its unit tests; acceptance criteria (kept as data in
``regulatory/lifecycle.yaml``) are evaluated per unit from these facts.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import UserError
from pipeline.core.provenance import file_sha256
from pipeline.techfile.data_files import LIFECYCLE, shown

PACKAGE = "pipeline"


@dataclass
class Unit:
    """One module of the shipped software."""

    module: str
    path: str
    sha256: str
    lines: int
    purpose: str
    api: list[dict] = field(default_factory=list)  # {"name", "kind", "signature", "doc"}
    uses: list[str] = field(default_factory=list)  # pipeline modules it imports
    soup: list[str] = field(default_factory=list)  # distributions it imports
    tests: list[dict] = field(default_factory=list)  # {"module", "path", "status", "count"}
    level: int = 0  # integration level: 1 + the highest level of the units it uses

    @property
    def package(self) -> str:
        """``pipeline.<package>`` (the package a unit belongs to)."""
        return ".".join(self.module.split(".")[:2])


def module_file(root: Path, module: str) -> Path | None:
    """The source file of a ``pipeline`` module (``x.py`` or ``x/__init__.py``), or None."""
    base = Path(root) / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports(root: Path, tree: ast.AST) -> tuple[set[str], set[str]]:
    """``(pipeline modules, top-level external names)`` a parsed module imports, at any depth."""
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for full in names:
            top = full.split(".")[0]
            if top != PACKAGE:
                external.add(top)
                continue
            parts = full.split(".")
            for end in range(1, len(parts) + 1):  # the module and the packages on the way (they run)
                if module_file(root, ".".join(parts[:end])):
                    internal.add(".".join(parts[:end]))
    return internal, external


def shipped_units(root: Path, entries: list[str]) -> list[Unit]:
    """The import closure of ``entries`` as units, in module order.

    Args:
        root: the repository root.
        entries: entry modules (``pipeline.predict.cli``).
    """
    root = Path(root)
    dists = md.packages_distributions()
    units: dict[str, Unit] = {}
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in units:
            continue
        path = module_file(root, name)
        if path is None:
            raise UserError(f"{shown(LIFECYCLE)}: entry module {name} has no source under {root}")
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        internal, external = imports(root, tree)
        parts = name.split(".")
        internal |= {".".join(parts[:end]) for end in range(1, len(parts))
                     if module_file(root, ".".join(parts[:end]))}  # its own packages run first
        internal.discard(name)
        units[name] = Unit(module=name, path=path.relative_to(root).as_posix(), sha256=file_sha256(path),
                           lines=len(source.splitlines()), purpose=_summary(ast.get_docstring(tree)),
                           api=_api(tree), uses=sorted(internal),
                           soup=sorted({d for top in external for d in dists.get(top, [])}))
        todo += sorted(internal - set(units))
    for unit in units.values():  # packages on the way are units too (their __init__ runs on import)
        unit.uses = sorted(u for u in unit.uses if u in units)
    _levels(units)
    return [units[k] for k in sorted(units)]


def attach_tests(root: Path, units: list[Unit], tests: dict, tests_dir: str = "tests") -> None:
    """Give each unit the test modules that import it, with their outcomes in the test report.

    Args:
        root: the repository root.
        units: from ``shipped_units``.
        tests: the trace graph's test records by key (``tests.x.test_y::test_z``).
        tests_dir: the folder holding the tests.
    """
    by_module: dict[str, list] = {}
    for record in tests.values():
        parts = record.key.split("::", 1)[0].split(".")
        if parts[-1].startswith("Test"):  # a test class: its module is one level up
            parts = parts[:-1]
        by_module.setdefault(".".join(parts), []).append(record)
    wanted = {u.module: u for u in units}
    for path in sorted((Path(root) / tests_dir).rglob("test_*.py")):
        rel = path.relative_to(root)
        module = ".".join(rel.with_suffix("").parts)
        internal, _ = imports(root, ast.parse(path.read_text(), filename=str(rel)))
        records = by_module.get(module, [])
        statuses = [r.status for r in records]
        status = ("failed" if "failed" in statuses else "missing" if not records or "missing" in statuses
                  else "passed" if "passed" in statuses else "skipped")
        for name in sorted(internal & set(wanted)):
            wanted[name].tests.append({"module": module, "path": rel.as_posix(), "status": status,
                                       "count": len(records)})


def acceptance(units: list[Unit], rules: dict) -> list[dict]:
    """Each unit's result against each unit acceptance criterion.

    Args:
        units: with tests attached.
        rules: ``max_lines`` from ``regulatory/lifecycle.yaml``.
    """
    rows = []
    for u in units:
        undocumented = [a["name"] for a in u.api if not a["doc"]]
        failing = [t["module"] for t in u.tests if t["status"] not in ("passed",)]
        checks = {
            "UA-1": (bool(u.purpose), "module docstring" if u.purpose else "no module docstring"),
            "UA-2": (not undocumented, "all documented" if not undocumented
                     else "undocumented: " + ", ".join(undocumented)),
            "UA-3": (u.lines <= rules["max_lines"], f"{u.lines} lines"),
            "UA-4": (bool(u.tests), f"{len(u.tests)} test module(s)"),
            "UA-5": (bool(u.tests) and not failing,
                     "all passed" if u.tests and not failing else
                     ("no test" if not u.tests else "not passed: " + ", ".join(failing))),
        }
        rows.append({"unit": u, "checks": checks, "accepted": all(ok for ok, _ in checks.values())})
    return rows


def cli_arguments(root: Path, module: str) -> list[dict]:
    """The command-line arguments a CLI module declares (``add_argument`` calls), read from source.

    Args:
        root: the repository root.
        module: e.g. ``pipeline.predict.cli``.
    """
    path = module_file(root, module)
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            help_text = _literal(keywords.get("help"))
            choices = keywords.get("choices")
            out.append({"names": names, "help": help_text or "",
                        "default": ast.unparse(keywords["default"]) if "default" in keywords else None,
                        "choices": ast.unparse(choices) if choices is not None else None,
                        "required": not names[0].startswith("-") if names else False})
    return out


def stage_modules(units: list[Unit], stages: list[str]) -> list[str]:
    """Shipped units that belong to a stage's package (``pipeline.<stage>``): code that ships should
    sit below the stages (design rule), so each is an architecture finding.

    Args:
        units: the shipped units.
        stages: the stage names of ``dvc.yaml``.
    """
    packages = {f"{PACKAGE}.{s}" for s in stages}
    return [u.module for u in units if u.package in packages]


def _levels(units: dict[str, Unit]) -> None:
    for _ in units:
        changed = False
        for u in units.values():
            level = 1 + max((units[d].level for d in u.uses if d != u.module), default=-1)
            if level != u.level:
                u.level, changed = level, True
        if not changed:
            return


def _api(tree: ast.Module) -> list[dict]:
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            signature = node.name if kind == "class" else f"{node.name}({_args(node.args)})"
            if kind == "function" and node.returns is not None:
                signature += f" -> {ast.unparse(node.returns)}"
            out.append({"name": node.name, "kind": kind, "signature": signature,
                        "doc": _summary(ast.get_docstring(node))})
    return out


def _args(args: ast.arguments) -> str:
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        names.append("*")
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return ", ".join(names)


def _summary(doc: str | None) -> str:
    if not doc:
        return ""
    return re.sub(r"\s+", " ", doc.strip().split("\n\n", 1)[0])


def _literal(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)
    return value if isinstance(value, str) else str(value)
