"""The trace graph: design items, stages, tests, criteria, results and runs as one structure.

Edges point from child to parent: requirement -> user need / requirement / control,
hazard -> control, control -> effectiveness evidence, criterion -> requirement,
stage -> requirement / risk, test -> requirement. ``backlinks`` gives the reverse direction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core import provenance
from pipeline.design.items import outgoing_links
from pipeline.design.load import DesignSet, load_design
from pipeline.design.open_items import load_open_items
from pipeline.paths import Paths
from pipeline.trace import reviews as rv
from pipeline.trace.results import MlflowRun, VnvResults, load_mlflow_runs, load_vnv
from pipeline.trace.stages import Stage, load_stages
from pipeline.trace.tests_index import TestRecord, junit_source, merge_junit, scan_markers


@dataclass(frozen=True)
class TracePaths:
    """Where the graph's inputs live, relative to the repository root: the stages' records as
    ``params.yaml``'s ``paths`` name them (``TracePaths.of``), and the repository's own files."""

    root: Path
    junit: str
    vnv: str
    test_split_log: str
    manifest: str
    dvc_yaml: str = "dvc.yaml"
    dvc_lock: str = "dvc.lock"
    mlflow_db: str = "mlflow.db"
    reviews: str = str(rv.REVIEWS)
    tests_dir: str = "tests"

    @classmethod
    def of(cls, root: Path, paths: Paths) -> "TracePaths":
        """The graph's inputs for the repository at ``root`` whose ``params.yaml`` has ``paths``."""
        return cls(root=Path(root), junit=paths.junit, vnv=paths.vnv_metrics,
                   test_split_log=paths.test_split_log, manifest=paths.manifest)

    def at(self, name: str) -> Path:
        """The absolute-or-root-relative path of one input (``at("junit")``)."""
        return Path(self.root) / getattr(self, name)


@dataclass
class Trace:
    """Everything the gates and the site need, with links in both directions."""

    design: DesignSet
    stages: dict[str, Stage]
    tests: dict[str, TestRecord]
    vnv: VnvResults
    runs: dict[str, MlflowRun]
    reviews: dict[str, dict]
    junit_found: bool
    paths: TracePaths
    commit: str | None = None  # the checked-out commit; None outside a git checkout
    changes: list[str] | None = None  # tracked files differing from it (provenance.uncommitted_changes)
    junit_source: str | None = None  # the source_commit the test report recorded
    open_items: list = field(default_factory=list)  # pipeline.design.open_items.OpenItem
    blocking_kinds: tuple[str, ...] = ()  # the kinds of open items the release policy says block a release
    links: dict[str, list[str]] = field(default_factory=dict)
    backlinks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def kind(self, node: str) -> str:
        """``user_need`` | ``requirement`` | ``risk`` | ``control`` | ``criterion`` | ``stage``
        | ``test`` | ``unknown``."""
        d = self.design
        for kind, table in (("user_need", d.user_needs), ("requirement", d.requirements),
                            ("risk", d.risks), ("control", d.controls),
                            ("criterion", d.criteria), ("stage", self.stages),
                            ("test", self.tests)):
            if node in table:
                return kind
        return "unknown"

    def implemented_by(self, control: str) -> list[str]:
        """Requirements that implement a risk control."""
        return [r for r in self.backlinks.get(control, []) if r in self.design.requirements
                and control in self.design.requirements[r].implements]

    def verifiers(self, requirement: str) -> tuple[list[TestRecord], list[str]]:
        """Tests and acceptance criteria (IDs) that verify a requirement."""
        back = self.backlinks.get(requirement, [])
        return ([self.tests[t] for t in back if t in self.tests],
                [c for c in back if c in self.design.criteria])

    def reviewable(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Per item or stage that carries links: its fingerprint and its targets' fingerprints."""
        items = self.design.items()
        out = {}
        for node in [*self.design.requirements, *self.design.risks, *self.design.controls,
                     *self.design.criteria, *self.stages]:
            own = rv.fingerprint(items[node]) if node in items else rv.fingerprint(
                _stage_content(self.stages[node]))
            targets = {t: rv.fingerprint(items[t]) for t in self.links[node] if t in items}
            out[node] = (own, targets)
        return out


def build_trace(paths: TracePaths) -> Trace:
    """Load every input and link it; ``UserError`` when a design file is invalid.

    Absent optional inputs (``dvc.lock``, junit report, ``vnv.json``, MLflow store) leave
    the corresponding evidence empty: the gates then report it as missing.

    Args:
        paths: where the inputs are.
    """
    design = load_design(paths.root)
    tests = scan_markers(paths.root, paths.tests_dir)
    junit = paths.at("junit")
    if junit.is_file():
        merge_junit(tests, junit)
    source = junit_source(junit) if junit.is_file() else None
    trace = Trace(design=design, stages=load_stages(paths.at("dvc_yaml"), paths.at("dvc_lock"), paths.vnv),
                  tests=tests, vnv=load_vnv(paths.at("vnv")),
                  runs=load_mlflow_runs(paths.at("mlflow_db")),
                  reviews=rv.load_reviews(paths.at("reviews")), junit_found=junit.is_file(),
                  paths=paths, commit=provenance.head_commit(paths.root),
                  changes=provenance.uncommitted_changes(paths.root, paths.dvc_lock), junit_source=source,
                  open_items=load_open_items(paths.root), blocking_kinds=_blocking_kinds(paths.root))
    for node, item in design.items().items():
        trace.links[node] = outgoing_links(item)
    for name, stage in trace.stages.items():
        trace.links[name] = [*stage.requirements, *stage.risks]
    for key, test in tests.items():
        trace.links[key] = list(test.requirements)
    for node, targets in trace.links.items():
        for target in targets:
            if node not in trace.backlinks[target]:
                trace.backlinks[target].append(node)
    return trace


def _blocking_kinds(root: Path) -> tuple[str, ...]:
    """``blocking_open_items`` of the release policy; none without a policy file."""
    from pipeline.governance import paths as governance_paths
    from pipeline.governance.registry import load_policy

    if not (Path(root) / governance_paths.POLICY).is_file():
        return ()
    return tuple(load_policy(root).blocking_open_items)


def hierarchy_edges(trace: Trace) -> dict[str, list[str]]:
    """The derivation edges a cycle is searched in (effectiveness references excluded)."""
    edges = {}
    for node, targets in trace.links.items():
        if trace.kind(node) == "control":
            continue
        edges[node] = list(targets)
    return edges


def downstream(stages: dict[str, Stage], start: str) -> set[str]:
    """``start`` and every stage that (transitively) reads one of its outputs."""
    found, frontier = {start}, [start]
    while frontier:
        current = stages[frontier.pop()]
        for stage in stages.values():
            if stage.name not in found and any(
                _under(dep, out) for dep in stage.deps for out in current.outs
            ):
                found.add(stage.name)
                frontier.append(stage.name)
    return found


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _stage_content(stage: Stage) -> dict:
    return {"desc": stage.desc, "requirements": stage.requirements, "risks": stage.risks}
