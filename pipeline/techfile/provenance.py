"""Where the data behind every performance figure comes from, decided from ``dvc.lock``.

The reader stage's recorded ``source`` (format and path, the parameters it ran with; a path left
null reads the one recorded input another stage wrote) is followed back through the stages whose
recorded outputs hold that path and what each of them read (its recorded ``source`` parameter,
else its one recorded input another stage wrote), until a path no stage wrote (the user's own
data) or a stage known to generate synthetic data. Nothing is taken from a sentence: the same rule says
"synthetic" for the default cohort and names the reader and folder for a user's data.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from pipeline.core.errors import UserError

SYNTHETIC, EXTERNAL, STAGE = "synthetic", "external", "stage output"


def data_provenance(lock_stages: dict, reader_stage: str, generators: dict[str, str]) -> dict:
    """The provenance of the data the reader stage read, as recorded in ``dvc.lock``.

    Args:
        lock_stages: ``dvc.lock``'s ``stages`` mapping.
        reader_stage: the stage whose ``source`` parameter selects the reader (``preprocess``).
        generators: stage name -> description of the synthetic data it generates.

    Returns:
        ``kind`` (synthetic, external or stage output), ``synthetic``, the reader ``format`` and
        ``path``, the ``chain`` of stages the data passed through, the ``origin`` (a path or a
        stage), and for synthetic data the ``generator``, its ``description``, recorded ``seed``,
        invented ``sites`` (institution names) and simulated ``manufacturers``.
    """
    if reader_stage not in lock_stages:
        raise UserError(f"dvc.lock has no entry for stage {reader_stage}: the data provenance "
                        "cannot be decided; run dvc repro before rendering the technical file")
    source = _source(_params(lock_stages[reader_stage]))
    if not isinstance(source, dict):
        raise UserError(f"dvc.lock records no {reader_stage} source (format and path) for stage "
                        f"{reader_stage}: the data provenance cannot be decided; run dvc repro")
    read = source.get("path") or _stage_input(lock_stages, reader_stage)
    if not read:
        raise UserError(f"dvc.lock records neither a source path nor one input written by another stage "
                        f"for stage {reader_stage}: the data provenance cannot be decided; run dvc repro")
    source = {**source, "path": read}
    path = _norm(str(read))
    chain = [{"stage": reader_stage, "reads": path, "writes": None}]
    kind, origin, generator = EXTERNAL, path, None
    seen = {reader_stage}
    while True:
        producer = _producer(lock_stages, path)
        if producer is None:
            kind, origin = EXTERNAL, path
            break
        if producer in seen:
            raise UserError(f"dvc.lock: the data source {path} forms a cycle through stage {producer}")
        seen.add(producer)
        if producer in generators:
            chain.append({"stage": producer, "reads": None, "writes": path})
            kind, origin, generator = SYNTHETIC, producer, producer
            break
        upstream = _source(_params(lock_stages[producer]))
        upstream = upstream.get("path") if isinstance(upstream, dict) else upstream
        upstream = upstream or _stage_input(lock_stages, producer)
        chain.append({"stage": producer, "reads": _norm(str(upstream)) if upstream else None,
                      "writes": path})
        if not upstream:
            kind, origin = STAGE, producer
            break
        path = _norm(str(upstream))
    out: dict[str, Any] = {"kind": kind, "synthetic": kind == SYNTHETIC,
                           "format": str(source.get("format", "not recorded")),
                           "path": _norm(str(source["path"])), "origin": origin,
                           "chain": chain, "generator": generator, "description": "",
                           "seed": None, "sites": {}, "manufacturers": []}
    if generator is not None:
        params = _params(lock_stages[generator])
        sites = _sites(params)
        out.update(description=generators[generator], seed=_find(params, "seed"), sites=sites,
                   manufacturers=sorted({s["manufacturer"] for s in sites.values() if s["manufacturer"]}))
    return out


def group_labels(provenance: dict) -> dict[str, dict[str, str]]:
    """Display labels of subgroup levels: synthetic sites and simulated scanners say so.

    Args:
        provenance: from ``data_provenance``.

    Returns:
        ``{"site": {institution: label}, "manufacturer": {name: label}}``; empty for real data.
    """
    if not provenance["synthetic"]:
        return {"site": {}, "manufacturer": {}}
    sites = {name: f"{name} (synthetic site)" for name in provenance["sites"]}
    sites.update({s["name"]: f"{s['name']} (synthetic site)" for s in provenance["sites"].values()
                  if s["name"]})
    makers = {name: f"{name} (simulated scanner)" for name in provenance["manufacturers"]}
    return {"site": sites, "manufacturer": makers}


def _params(entry: dict) -> dict:
    """Every parameter section a ``dvc.lock`` stage entry recorded, from all params files."""
    merged: dict[str, Any] = {}
    for sections in (entry.get("params") or {}).values():
        if isinstance(sections, dict):
            merged.update(sections)
    return merged


def _source(params: dict) -> Any:
    """The recorded ``source`` parameter: ``<section>.source`` or a dotted ``<section>.source`` key."""
    for key, value in sorted(params.items()):
        if key.endswith(".source") or key == "source":
            return value
        if isinstance(value, dict) and "source" in value:
            return value["source"]
    return None


def _stage_input(lock_stages: dict, name: str) -> str | None:
    """The one recorded input of stage ``name`` that another stage wrote; None when none or several."""
    written = {_norm(str(dep.get("path", ""))) for dep in lock_stages[name].get("deps") or []
               if _producer(lock_stages, _norm(str(dep.get("path", "")))) not in (None, name)}
    return written.pop() if len(written) == 1 else None


def _producer(lock_stages: dict, path: str) -> str | None:
    """The stage whose recorded outputs hold ``path`` (the output itself or a folder above it)."""
    for name, entry in lock_stages.items():
        for out in entry.get("outs") or []:
            out_path = _norm(str(out.get("path", "")))
            if out_path and (path == out_path or path.startswith(out_path + "/")):
                return name
    return None


def _sites(params: Any) -> dict[str, dict[str, str]]:
    """Institution name -> site name and manufacturer, from every mapping with an ``institution``."""
    found: dict[str, dict[str, str]] = {}
    if isinstance(params, dict):
        if "institution" in params:
            found[str(params["institution"])] = {"name": str(params.get("name", "")),
                                                 "manufacturer": str(params.get("manufacturer", ""))}
        for value in params.values():
            found.update(_sites(value))
    elif isinstance(params, list):
        for value in params:
            found.update(_sites(value))
    return dict(sorted(found.items()))


def _find(params: dict, key: str) -> Any:
    """The first ``key`` of a section (top level of each recorded section)."""
    for value in params.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return params.get(key)


def _norm(path: str) -> str:
    text = str(PurePosixPath(path.replace("\\", "/")))
    return text[2:] if text.startswith("./") else text
