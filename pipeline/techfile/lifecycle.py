"""IEC 62304 life-cycle records: detailed design, unit acceptance, integration, architecture
verification, SOUP platforms and the maintenance, problem-resolution and change-control processes.

The facts come from the code and the recorded run (``shipped_code``, the trace graph, the
installed wheels); the process decisions from ``regulatory/lifecycle.yaml``, whose every
section, open item and implementing file is checked. ``view`` joins them into what the templates
render.

The source is read from the recorded run's root, the checkout the release is built from. A root
without the shipped source (a recorded run copied elsewhere) is described from the package that
renders the file, and the document says so (``code_source``).
"""

from __future__ import annotations

import graphlib
import importlib.metadata as md
import platform as platform_module
import re
from pathlib import Path

from packaging.specifiers import SpecifierSet
from pydantic import Field

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_yaml
from pipeline.techfile import shipped_code
from pipeline.techfile.data_files import LIFECYCLE

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding this package
INTENDED_USE_RULE = Path("pipeline/predict/data/intended_use.yaml")
STAGE_DEPS_TEST = "tests.core.test_stage_deps"


class Step(StrictModel):
    """One step of a process: how it is done, by which command and files, or what is still open."""

    activity: str = Field(min_length=1)
    how: str = Field(min_length=1)
    command: str = ""
    implemented_by: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)
    open: list[str] = Field(default_factory=list)


class Process(StrictModel):
    """A life-cycle process (maintenance, problem resolution, change control)."""

    id: str = Field(min_length=1)
    anchor: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    title: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class Criterion(StrictModel):
    """A unit acceptance criterion."""

    id: str = Field(pattern=r"^UA-\d+$")
    text: str = Field(min_length=1)


class UnitAcceptance(StrictModel):
    """The unit acceptance criteria and their one number."""

    max_lines: int = Field(ge=1)
    criteria: list[Criterion] = Field(min_length=1)


class Shipped(StrictModel):
    """What ships: the entry modules whose import closure is the deployed software."""

    entries: list[str] = Field(min_length=1)
    command: str = Field(min_length=1)


class Integration(StrictModel):
    """The integration strategy and the end-to-end test modules."""

    strategy: str = Field(min_length=1)
    end_to_end: list[str] = Field(default_factory=list)


class Lifecycle(StrictModel):
    """``regulatory/lifecycle.yaml``."""

    shipped: Shipped
    unit_acceptance: UnitAcceptance
    integration: Integration
    processes: list[Process] = Field(min_length=1)


def load(path: Path = LIFECYCLE) -> Lifecycle:
    """The life-cycle data, validated; a problem is a ``UserError`` naming the file."""
    try:
        return Lifecycle.model_validate(load_yaml(path, "life-cycle data") or {})
    except ValueError as exc:
        raise UserError(f"{path} is not valid: {exc}") from None


def view(data: Lifecycle, root: Path, trace, problems: list, soup_rows: list[dict], sections: dict,
         open_items: dict, models: list[dict]) -> dict:
    """Everything the life-cycle sections render.

    Args:
        data: from ``load``.
        root: the repository root.
        trace: the trace graph (stages, tests with their outcomes).
        problems: the trace gate problems.
        soup_rows: ``soup.soup_list`` rows.
        sections: the book's section anchors (unknown ones fail the render).
        open_items: open item ID -> item.
        models: ``models.identities`` rows (the model file interface).
    """
    root = Path(root)
    code = root if shipped_code.module_file(root, data.shipped.entries[0]) else PACKAGE_ROOT
    for process in data.processes:
        for step in process.steps:
            where = f"{LIFECYCLE.name} {process.id}: {step.activity}"
            unknown = [s for s in step.sections if s not in sections]
            unknown += [o for o in step.open if o not in open_items]
            unknown += [f for f in step.implemented_by if not (code / f).exists()]
            if unknown:
                raise UserError(f"{where} names unknown sections, open items or files: {', '.join(unknown)}")
            if not (step.command or step.implemented_by or step.sections or step.open):
                raise UserError(f"{where} names no command, file, section or open item")
    units = shipped_code.shipped_units(code, data.shipped.entries)
    shipped_code.attach_tests(code, units, trace.tests)
    accepted = shipped_code.acceptance(units, {"max_lines": data.unit_acceptance.max_lines})
    missing_e2e = [p for p in data.integration.end_to_end if not (code / p).is_file()]
    if missing_e2e:
        raise UserError(f"{LIFECYCLE.name}: end-to-end test modules not found: {', '.join(missing_e2e)}")
    entry = data.shipped.entries[0]
    return {
        "code_source": "the recorded run's checkout" if code == root else
                       "the package rendering this file (the recorded run's root holds no pipeline source)",
        "shipped": data.shipped, "units": units, "acceptance": accepted,
        "criteria": data.unit_acceptance.criteria,
        "accepted": sum(1 for a in accepted if a["accepted"]),
        "levels": _levels(units), "integration": data.integration,
        "end_to_end": [_test_module(trace, p) for p in data.integration.end_to_end],
        "checks": architecture_checks(trace, problems, units, soup_rows),
        "platforms": soup_platforms(soup_rows),
        "cli": shipped_code.cli_arguments(code, entry),
        "intended_use_rule": _intended_use(code),
        "model_interface": next((m["identity"] for m in models if m.get("identity")), None),
        "processes": data.processes,
        "cited": [(f"{p.title}: {s.activity}", s.open) for p in data.processes for s in p.steps],
    }


def architecture_checks(trace, problems: list, units: list, soup_rows: list[dict]) -> list[dict]:
    """IEC 62304 5.3.6: the architecture checked against the code, ``dvc.yaml`` and the SOUP list."""
    edges = {s.name: {p.name for p in trace.stages.values() if p.name != s.name and any(
        _under(d, o) for d in s.deps for o in p.outs)} for s in trace.stages.values()}
    try:
        graphlib.TopologicalSorter(edges).prepare()
        acyclic = (True, f"{len(edges)} stages, {sum(len(v) for v in edges.values())} producer links, no cycle")
    except graphlib.CycleError as exc:
        acyclic = (False, f"cycle: {' -> '.join(exc.args[1])}")
    unallocated = [p.item for p in problems if p.gate == "no-requirement"]
    dep_tests = [t for k, t in trace.tests.items() if k.startswith(STAGE_DEPS_TEST + "::")]
    in_stages = shipped_code.stage_modules(units, list(trace.stages))
    techfile = trace.stages.get("techfile")
    uncovered = [u.path for u in units if techfile is None or not any(_under(u.path, d) for d in techfile.deps)]
    locked = {_canonical(r["name"]) for r in soup_rows}
    unlisted = sorted({d for u in units for d in u.soup if _canonical(d) not in locked})
    return [
        _check("AV-1", "The data flow between the stages has no cycle (dvc.yaml deps and outs).", *acyclic),
        _check("AV-2", "Every stage names the requirements it implements (dvc.yaml meta).",
               not unallocated, "all stages" if not unallocated else "no requirement: " + ", ".join(unallocated)),
        _check("AV-3", "Each stage's dvc.yaml deps cover every module its command imports "
               f"({STAGE_DEPS_TEST.replace('.', '/')}.py in the recorded test report).",
               bool(dep_tests) and all(t.status == "passed" for t in dep_tests),
               ", ".join(f"{t.key.split('::')[-1]}: {t.status}" for t in dep_tests) or "no result in the test report"),
        _check("AV-4", "The shipped code sits below the stages: no shipped unit belongs to a stage's package.",
               not in_stages, "none" if not in_stages else "shipped units in stage packages: " + ", ".join(in_stages)),
        _check("AV-5", "The technical-file stage depends on every shipped source this detailed design is "
               "generated from (else the design could describe code that no longer ships).",
               not uncovered, "all covered" if not uncovered else "not a dvc.yaml dep of techfile: " + ", ".join(uncovered)),
        _check("AV-6", "Every SOUP distribution the shipped units import is pinned in the lock file.",
               not unlisted, "all pinned" if not unlisted else "not pinned: " + ", ".join(unlisted)),
    ]


def soup_platforms(soup_rows: list[dict], python: str | None = None) -> dict:
    """IEC 62304 5.3.4: the platform each SOUP item needs, from its installed wheel's tags.

    Args:
        soup_rows: ``soup.soup_list`` rows (installed versions equal the locked ones).
        python: the interpreter version the release is built with (default: this one).
    """
    python_version = python or platform_module.python_version()
    specific, pure, refusing = [], 0, []
    glibc, arches = [], set()
    for row in soup_rows:
        try:
            dist = md.distribution(row["name"])
            wheel = dist.read_text("WHEEL") or ""
        except md.PackageNotFoundError:
            wheel, dist = "", None
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
        needs = dist.metadata.get("Requires-Python") if dist is not None else None
        if needs and not SpecifierSet(needs).contains(python_version, prereleases=True):
            refusing.append(f"{row['name']} ({needs})")
        platforms = sorted({t.split("-")[-1] for t in tags})
        if not tags or platforms == ["any"]:
            pure += 1
            continue
        specific.append({"name": row["name"], "version": row["version"], "tags": tags})
        for platform in platforms:
            found = re.match(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
            if found:
                glibc.append((int(found[1]), int(found[2])))
                arches.add(found[3])
            elif platform.startswith("linux_"):
                arches.add(platform.removeprefix("linux_"))
    return {"specific": specific, "pure": pure, "python": python_version, "python_refused_by": refusing,
            "glibc": ".".join(map(str, max(glibc))) if glibc else None, "arches": sorted(arches)}


def _levels(units: list) -> list[dict]:
    out: dict[int, list] = {}
    for u in units:
        out.setdefault(u.level, []).append(u)
    rows = []
    for level, group in sorted(out.items()):
        tests = {t["module"]: t["status"] for u in group for t in u.tests}
        rows.append({"level": level, "units": group, "tests": len(tests),
                     "not_passed": sorted(m for m, st in tests.items() if st != "passed")})
    return rows


def _test_module(trace, path: str) -> dict:
    module = ".".join(Path(path).with_suffix("").parts)
    records = [t for k, t in trace.tests.items() if k.split("::", 1)[0] == module]
    statuses = [t.status for t in records]
    status = "failed" if "failed" in statuses else "passed" if statuses and all(
        s in ("passed", "skipped") for s in statuses) and "passed" in statuses else "missing"
    return {"path": path, "tests": len(records), "status": status}


def _intended_use(root: Path) -> dict:
    path = Path(root) / INTENDED_USE_RULE
    return {"path": INTENDED_USE_RULE.as_posix(), "rules": load_yaml(path, "intended-use rule") or {}} \
        if path.is_file() else {"path": INTENDED_USE_RULE.as_posix(), "rules": {}}


def _check(cid: str, text: str, ok: bool, detail: str) -> dict:
    return {"id": cid, "text": text, "status": "passed" if ok else "failed", "detail": detail}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
