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


def load_stages(dvc_yaml: Path, dvc_lock: Path) -> dict[str, Stage]:
    """Stages of ``dvc.yaml`` in file order, with ``dvc.lock`` hashes where present.

    Args:
        dvc_yaml: the pipeline definition.
        dvc_lock: the lock file (may be absent: no stage has run yet).
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
    outside = outside_run(stages)
    return {name: replace(stage, outside_run=name in outside) for name, stage in stages.items()}


def outside_run(stages: dict[str, Stage]) -> set[str]:
    """The stages the recorded run's data did not pass through (a data profile's skipped stages).

    A stage whose recorded ``source`` parameter names data of its own (``preprocess.source.path``
    set: an image folder, an MSD task; ``deid.source`` set: the user's DICOM) does not read the
    stage that writes its declared input. A stage is outside the run when other (non-document)
    stages read its outputs and every one of them records its own source or is outside the run
    itself: the demo cohort and its de-identification when a profile's images enter at preprocess.
    Decided from ``dvc.yaml`` and the parameters ``dvc.lock`` recorded, never from a sentence.
    """
    work = {n: s for n, s in stages.items() if n not in DOCUMENT_STAGES}
    readers = {n: [c for c in work.values() if c.name != n and any(_under(d, o) for d in c.deps for o in s.outs)]
               for n, s in work.items()}
    outside: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, consumers in readers.items():
            if name not in outside and consumers and all(_reads_own(c, work[name]) or c.name in outside
                                                         for c in consumers):
                outside.add(name)
                changed = True
    return outside


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
