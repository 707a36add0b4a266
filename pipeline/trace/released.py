"""The released files the site links to: each verified model file and the release manifest.

A model file implements the requirements of the stage that writes it (its path lies under one of
that stage's outputs), of the stages whose outputs that stage reads (the network, its compression
and the preprocessing the file carries), and of every acceptance criterion judged on that model.
This rule is what puts a model file one click from each requirement page that it implements.

Links are relative to the site's own folder, so the release folder travels as a whole
(``release/trace/X.html`` -> ``../models/teacher.onnx``). The manifest is written by the technical
file stage after the site; the site links it but never quotes its hash (the manifest hashes the
site, so a hash of it here could never be stable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.provenance import file_sha256
from pipeline.trace.graph import Trace


@dataclass(frozen=True)
class ReleasedFile:
    """A released file as the site shows it."""

    name: str  # "teacher", "compressed" or "manifest"
    label: str
    path: str  # relative to the repository root
    href: str  # relative to the site folder
    verified_sha256: str | None  # what V&V recorded (None for the manifest)
    current_sha256: str  # the file now, "missing" when absent, "" where never quoted (manifest)
    requirements: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    note: str = ""

    @property
    def matches(self) -> bool:
        """The released file is the one V&V verified."""
        return self.verified_sha256 is not None and self.current_sha256 == self.verified_sha256


def released_files(trace: Trace, site: Path) -> list[ReleasedFile]:
    """The verified model files (``vnv.json`` ``models``) and the release manifest.

    Args:
        trace: the graph.
        site: the folder the site is rendered into (links are relative to it).
    """
    root = Path(trace.paths.root)
    out = []
    for name, (rel, recorded) in sorted(trace.vnv.models.items()):
        stages = model_stages(trace, rel)
        reqs = {r for s in stages for r in trace.stages[s].requirements}
        reqs |= {r for c in trace.design.criteria.values() if name in c.models for r in c.requirements}
        path = root / rel
        out.append(ReleasedFile(
            name=name, label=f"{name} model ({Path(rel).name})", path=rel, href=_href(path, site),
            verified_sha256=recorded,
            current_sha256=file_sha256(path) if path.is_file() else "missing",
            requirements=tuple(r for r in trace.design.requirements if r in reqs), stages=tuple(stages),
            note=f"written by stage {stages[0]}" if stages else "no stage declares it as an output"))
    manifest = Path(trace.paths.manifest)
    writers = writing_stages(trace, manifest.as_posix())
    reqs = {r for s in writers for r in trace.stages[s].requirements} | {r for f in out for r in f.requirements}
    out.append(ReleasedFile(
        name="manifest", label=f"release manifest ({manifest.name})", path=manifest.as_posix(),
        href=_href(root / manifest, site), verified_sha256=None, current_sha256="",
        requirements=tuple(r for r in trace.design.requirements if r in reqs), stages=tuple(writers),
        note="lists every released file with its SHA-256; written by "
             + (f"stage {writers[0]}" if writers else "the technical file") + " after this site"))
    return out


def model_stages(trace: Trace, rel: str) -> list[str]:
    """The stage writing ``rel`` first, then the stages whose outputs it reads (one step up)."""
    writers = writing_stages(trace, rel)
    upstream = [s.name for s in trace.stages.values() if s.name not in writers and any(
        _under(dep, out) or _under(out, dep)
        for w in writers for dep in trace.stages[w].deps for out in s.outs)]
    return writers + upstream


def writing_stages(trace: Trace, rel: str) -> list[str]:
    """The stages declaring ``rel`` (or a folder above it) as an output."""
    return [s.name for s in trace.stages.values() if any(_under(rel, o) for o in s.outs)]


def _href(path: Path, site: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(site).resolve())).as_posix()


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
