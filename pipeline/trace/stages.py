"""Pipeline stages as trace nodes: ``dvc.yaml`` (desc, deps, outs, meta; its ``${paths.x}``
references resolved from ``params.yaml``) joined with ``dvc.lock``.

Read with PyYAML rather than the DVC API: the trace stage runs inside ``dvc repro`` and must
not take DVC's repository lock. ``dvc.lock`` is read, never declared as a dependency (that
would make the trace stage depend on its own lock entry).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


from pipeline.core.provenance import DOCUMENT_STAGES
from pipeline.core.dvc_yaml import read_pipeline
from pipeline.core.yaml_io import load_yaml


@dataclass(frozen=True)
class Stage:
    """One DVC stage with what it declares and, when it has run, the hashes it recorded."""

    name: str
    desc: str
    cmd: str
    deps: list[str]
    outs: list[str]
    requirements: list[str]
    risks: list[str]
    locked: bool = False
    dep_hashes: dict[str, str] = field(default_factory=dict)
    out_hashes: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # the data its recorded ``source`` parameter names (null: its declared input)
    outside_run: bool = False  # not part of the recorded run: every stage reading it reads its own source


@dataclass(frozen=True)
class StaleInput:
    """A stage input whose hash in the producer's lock entry differs from what the stage used."""

    stage: str
    path: str
    used: str
    current: str
    producer: str


def load_stages(dvc_yaml: Path, dvc_lock: Path, end: str | None = None) -> dict[str, Stage]:
    """Stages of ``dvc.yaml`` in file order, with ``dvc.lock`` hashes where present.

    Args:
        dvc_yaml: the pipeline definition.
        dvc_lock: the lock file (may be absent: no stage has run yet).
        end: the output the run ends at (the V&V record, ``paths.vnv_metrics``): the stages the
            data passed through are found backwards from it (``outside_run``).
    """
    spec = read_pipeline(dvc_yaml) if dvc_yaml.is_file() else {}
    lock = (load_yaml(dvc_lock, "lock file") or {}).get("stages", {}) if dvc_lock.is_file() else {}
    stages = {}
    for name, raw in (spec.get("stages") or {}).items():
        meta = raw.get("meta") or {}
        entry = lock.get(name) or {}
        outs = _paths(raw.get("outs")) + _paths(raw.get("metrics")) + _paths(raw.get("plots"))
        stages[name] = Stage(
            name=name, desc=str(raw.get("desc", "")), cmd=_cmd(raw.get("cmd")),
            deps=_paths(raw.get("deps")), outs=outs,
            requirements=[str(i) for i in meta.get("requirements") or []],
            risks=[str(i) for i in meta.get("risks") or []],
            locked=bool(entry),
            # a document stage's own lock entry changes with every render of the documents that
            # show it: its hashes are not carried into them (provenance.DOCUMENT_STAGES)
            dep_hashes={} if name in DOCUMENT_STAGES else {_norm(d["path"]): _hash(d) for d in entry.get("deps") or []},
            out_hashes={} if name in DOCUMENT_STAGES else {_norm(o["path"]): _hash(o) for o in entry.get("outs") or []},
            source=_recorded_source(entry.get("params"), name),
        )
    outside = outside_run(stages, end)
    return {name: replace(stage, outside_run=name in outside) for name, stage in stages.items()}


def outside_run(stages: dict[str, Stage], end: str | None = None) -> set[str]:
    """The stages the recorded run's data did not pass through (a data profile's skipped stages).

    The run is found backwards from the stage that writes ``end`` (the V&V record; without it,
    every stage no other reads): that stage and every stage whose outputs it reads, directly or
    through others, then every stage reading those. A stage reads another's outputs when one of
    its declared inputs lies in them and it does not record a source of its own that is none of
    them (``preprocess.source.path`` naming an image folder, ``deid.source`` the user's DICOM:
    older pipelines declared the skipped stage's output as the input all the same). Document
    stages read every record and never keep a stage in the run. What is left, the demo cohort
    and its de-identification when a profile's images enter at preprocess, is outside the run.
    Decided from ``dvc.yaml`` and the parameters ``dvc.lock`` recorded, never from a sentence.
    """
    work = {n: s for n, s in stages.items() if n not in DOCUMENT_STAGES}
    reads = {n: {p for p, producer in work.items() if p != n and not _reads_own(s, producer)
                 and any(_under(_norm(d), _norm(o)) for d in s.deps for o in producer.outs)}
             for n, s in work.items()}
    ends = [n for n, s in work.items() if end is not None and _norm(end) in map(_norm, s.outs)]
    if not ends:  # no V&V stage declared: the run ends wherever no stage reads on
        ends = [n for n in work if not any(n in r for r in reads.values())]
    run = _closure(set(ends), lambda n: reads[n])                          # what the end rests on
    run = _closure(run, lambda n: {c for c, r in reads.items() if n in r})  # and what reads that
    return set(work) - run


def _closure(start: set[str], step) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in step(todo.pop()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def stale_inputs(stages: dict[str, Stage]) -> list[StaleInput]:
    """Inputs whose producing stage now records another hash than the consumer ran with.

    Such a stage's evidence (metrics, reports, MLflow run) was produced from an artifact that
    has since changed: the evidence is suspect until the stage runs again.
    """
    producers = {path: s for s in stages.values() for path in s.out_hashes if not s.outside_run}
    stale = []
    for stage in stages.values():
        for path, used in stage.dep_hashes.items():
            producer = producers.get(path)
            if producer is not None and producer.out_hashes[path] != used:
                stale.append(StaleInput(stage.name, path, used, producer.out_hashes[path],
                                        producer.name))
    return stale



def _paths(entries: Any) -> list[str]:
    out = []
    for entry in entries or []:
        if isinstance(entry, dict):
            out += [_norm(str(key)) for key in entry]
        else:
            out.append(_norm(str(entry)))
    return out


def _cmd(cmd: Any) -> str:
    return " && ".join(cmd) if isinstance(cmd, list) else str(cmd or "")


def _hash(entry: dict) -> str:
    return str(entry.get("md5") or entry.get("etag") or entry.get("checksum") or "unknown")


def _reads_own(consumer: Stage, producer: Stage) -> bool:
    """Whether ``consumer`` reads data of its own rather than ``producer``'s outputs: its recorded
    source names a path that is none of them (``preprocess.source.path: data/deid`` set explicitly
    still reads the de-identification stage's output)."""
    if consumer.source is None:
        return False
    source = _norm(consumer.source)
    return not any(_under(source, _norm(out)) or _under(_norm(out), source) for out in producer.outs)


def _recorded_source(params: Any, name: str) -> str | None:
    """The data stage ``name``'s ``dvc.lock`` entry recorded as its own section's ``source``
    parameter (``<name>.source``: a path, or a reader's mapping with ``path``), or None when null.
    Another stage that records the section (export records ``preprocess``) reads no source."""
    for sections in (params or {}).values():
        section = sections.get(name) if isinstance(sections, dict) else None
        source = section.get("source") if isinstance(section, dict) else None
        if isinstance(source, dict):
            source = source.get("path")
        if source is not None:
            return str(source)
    return None


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _norm(path: str) -> str:
    return str(Path(path)).rstrip("/")


def upstream_outputs(stages: dict, as_of: str) -> list[str]:
    """The outputs of the stages before ``as_of`` in ``dvc.yaml`` order: what that stage reads.

    A later stage's outputs (the technical file) must not be recorded as inputs, or every
    re-render of that later stage would make this run look suspect.

    Args:
        stages: the trace graph's stages by name, in ``dvc.yaml`` order.
        as_of: the stage whose inputs are wanted.
    """
    names = list(stages)
    upstream = names[:names.index(as_of)] if as_of in names else names
    return sorted({path for name in upstream for path in stages[name].out_hashes})
