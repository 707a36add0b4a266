"""Gather the template context from the recorded run: every value the documents show.

Nothing here computes a result the pipeline did not record; it reads, joins and re-shapes.
Each input is read by one function of ``inputs`` (or ``soup``, ``release``) that names what
is missing. ``gather`` is pure apart from reading the files under ``paths``.
"""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass, replace
from types import SimpleNamespace
from pathlib import Path

import yaml

from pipeline.core.errors import UserError
from pipeline.core.provenance import DOCUMENT_STAGES
from pipeline.core.provenance import file_sha256
from pipeline.core.yaml_io import load_yaml
from pipeline.cohort.record import load_cohort_summary
from pipeline.compress.record import load_compress_metrics
from pipeline.deid.record import load_deid_report
from pipeline.export.record import load_export_metrics
from pipeline.preprocess.records import load_fingerprint
from pipeline.train.record import load_train_metrics
from pipeline.governance.changes import load_change_report
from pipeline.governance.paths import CHANGES_NAME
from pipeline.governance.soup_review import locked_versions, review_states
from pipeline.governance.views import approvals_view
from pipeline.techfile import (architecture, data_files, documents, inputs, lifecycle, models as model_files,
                               performance, plots, pms, provenance, riskfile, soup)
from pipeline.techfile.manifest import released_files
from pipeline.paths import Paths
from pipeline.techfile.params import TechfileParams
from pipeline.techfile.release import build_identity, release_status
from pipeline.techfile.component_hashes import component_hashes
from pipeline.techfile.data_files import REGULATORY, shown
from pipeline.techfile.sbom import build_sbom
from pipeline.techfile.view import TechfileView
from pipeline.trace import gates, status
from pipeline.trace.graph import TracePaths, build_trace
from pipeline.trace.results import server_uri

# the repository's own files the documents cite (not stage outputs: no entry in ``paths``)
REPOSITORY_FILES = {"dvc_yaml": "dvc.yaml", "dvc_lock": "dvc.lock", "mlflow_db": "mlflow.db",
                    "lock_file": "requirements.lock", "pyproject": "pyproject.toml"}
STAGE = "techfile"
FLAT = ("train", "export", "deid", "cohort")
CONFIG_SECTIONS = ("deid", "train")


@dataclass(frozen=True)
class TechfilePaths:
    """The repository root and ``params.yaml``'s ``paths`` (relative to the root)."""

    root: Path
    outputs: Paths

    def at(self, rel: str) -> Path:
        """``root / rel``."""
        return Path(self.root) / rel

    @property
    def inputs(self) -> SimpleNamespace:
        """What the documents are rendered from, by name: the stages' records and the repository's
        own files (the pipeline definition, its lock, the tracking store, the locked SOUP)."""
        o = self.outputs
        return SimpleNamespace(vnv=o.vnv_metrics, train=o.train_metrics, train_curve=o.train_curve,
                               compress=o.compress_metrics, export=o.export_metrics, fingerprint=o.fingerprint,
                               splits=o.splits, deid=o.deid_metrics, cohort=o.cohort_metrics, junit=o.junit,
                               test_split_log=o.test_split_log, **REPOSITORY_FILES)


def gather(params: TechfileParams, paths: TechfilePaths, config: dict) -> TechfileView:
    """Everything the templates need: the records' and design items' models and the rows built
    from them, checked by ``TechfileView``.

    Args:
        params: the ``techfile`` section.
        paths: the repository root.
        config: the whole validated ``params.yaml`` (as a mapping), shown as configuration items.
    """
    i = paths.inputs
    trace = build_trace(replace(TracePaths.of(Path(paths.root), paths.outputs), dvc_yaml=i.dvc_yaml,
                                dvc_lock=i.dvc_lock, mlflow_db=i.mlflow_db))
    design = trace.design
    if not server_uri():  # the runs are on the team's tracking server, not in a local file
        _require_file(paths.at(i.mlflow_db), "MLflow tracking store")
    vnv_record = inputs.load_vnv(paths.at(i.vnv), list(design.criteria))
    vnv = vnv_record.model_dump(exclude_unset=True)  # the helpers' mapping: the keys the file has
    problems = gates.check(trace, as_of=STAGE)
    changed = [p.line() for p in problems if p.gate == "changed"]
    if changed:  # a release is never rendered from evidence edited after its run
        raise UserError("the recorded evidence does not match dvc.lock:\n  " + "\n  ".join(changed))
    flags = status.node_flags(trace, problems)
    build = build_identity(Path(paths.root), paths.at(i.dvc_lock))
    models = model_files.identities(Path(paths.root),
                                    inputs.model_checks(Path(paths.root), vnv["models"], paths.at(i.vnv)))
    release = release_status(vnv, problems, models,
                             None if paths.at(i.junit).is_file() else i.junit)
    product = _product(params, paths.at(i.pyproject))
    product["versions"] = model_files.versions(product["version"], models)
    soup_rows = soup.soup_list(paths.at(i.lock_file), paths.at(i.pyproject), soup.load_purposes())
    reviews = review_states(Path(paths.root), locked_versions(paths.at(i.lock_file)))
    soup_rows = soup.apply_reviews(soup_rows, reviews)  # signed reviews in governance/soup_reviews
    _check_ids(soup_rows, design.requirements, f"SOUP purposes ({shown(soup.SOUP_DATA)})")
    edges = architecture.data_flow(trace.stages)
    criteria_status = {cid: r["status"] for cid, r in vnv["criteria"].items()}
    regulatory = _regulatory(trace)
    released = _released(params, paths)
    # a record written by a stage this run's data did not pass through (a data profile whose data
    # enters at preprocess: no cohort, no de-identification) is not read: it would describe other data
    skipped = {path for stage in trace.stages.values() if stage.outside_run for path in stage.outs}
    records = {"train": inputs.load_metrics(paths.at(i.train), load_train_metrics),
               "compress": inputs.load_metrics(paths.at(i.compress), load_compress_metrics),
               "export": inputs.load_metrics(paths.at(i.export), load_export_metrics),
               "deid": None if _norm(i.deid) in skipped else inputs.load_metrics(paths.at(i.deid), load_deid_report),
               "cohort": (None if _norm(i.cohort) in skipped
                          else inputs.load_metrics(paths.at(i.cohort), load_cohort_summary))}
    data = {name: record.model_dump(exclude_unset=True) if record is not None else None
            for name, record in records.items()}
    fingerprint_record = inputs.load_metrics(paths.at(i.fingerprint), load_fingerprint)
    fingerprint = fingerprint_record.model_dump(exclude_unset=True)
    origin = _provenance(paths.at(i.dvc_lock), regulatory["data_provenance"])
    hashes = component_hashes(paths.at(i.lock_file), soup_rows)
    sbom_doc = build_sbom(product, soup_rows, build["commit"], build["date"], file_sha256(paths.at(i.lock_file)),
                          hashes, models)
    facts = documents.facts(origin, models, paths.at(i.lock_file), sbom_doc["components"], soup_rows,
                            data["deid"], paths.at(i.deid))
    docs = _documents(trace, flags, criteria_status, regulatory, facts, fingerprint, paths.at(i.fingerprint),
                      {"root": Path(paths.root), "problems": problems, "soup": soup_rows, "models": models})
    return TechfileView(**{
        "product": product, "build": build, "release": release, "design": design,
        "sbom_document": sbom_doc,
        "trace": trace, "problems": problems,
        "flags": {node: status.badges(f) for node, f in flags.items()},
        "vnv": vnv_record, "criteria_status": criteria_status, "model_checks": models,
        "criterion_rows": performance.criterion_rows(list(design.criteria.values()), vnv),
        "subgroup_rows": performance.subgroup_rows(vnv),
        "class_rows": performance.class_rows(vnv),
        "vnv_extra": {k: inputs.flatten(vnv[k]) for k in ("test_split", "summary", "external_split",
                                                          "external_summary", "worst_cases", "robustness",
                                                          "membership", "settings")
                      if vnv.get(k)},
        "locked_splits": {name: getattr(vnv_record, f"{name}_split") for name in ("test", "external")
                          if getattr(vnv_record, f"{name}_split")},
        "evidence": inputs.load_evidence(Path(paths.root), vnv["evidence"], paths.at(i.vnv)),
        **records,
        "fingerprint": fingerprint_record, "provenance": origin,
        "group_labels": provenance.group_labels(origin), **docs,
        "splits": inputs.load_splits(paths.at(i.splits)),
        "config": _config(config),
        "flat": {name: inputs.flatten(data[name]) if data[name] is not None else None for name in FLAT},
        "test_counts": _test_counts(trace),
        "safety": _safety(trace, regulatory["safety_class_by_severity"]),
        "section_titles": regulatory["sections"],
        "stages": trace.stages, "data_flow": edges,
        "architecture_svg": architecture.svg(trace.stages, edges),
        "curve_svg": _curve(paths.at(i.train_curve)),
        "tests": _tests_by_requirement(trace),
        "soup_audit": soup.audit_view(Path(paths.root)),
        "soup": soup_rows, "environment": {"python": platform.python_version(),
                                           "lock_sha256": file_sha256(paths.at(i.lock_file)),
                                           "lock_file": i.lock_file, "packages": len(soup_rows)},
        # the document stages' own runs are left out: their IDs change with every render
        "runs": {name: run.run_id for name, run in sorted(trace.runs.items())
                 if name not in DOCUMENT_STAGES},
        "risk_rows": riskfile.analysis_rows(trace),
        "matrix_before": riskfile.matrix(trace, residual=False),
        "matrix_after": riskfile.matrix(trace, residual=True),
        "counts_before": riskfile.region_counts(trace, residual=False),
        "counts_after": riskfile.region_counts(trace, residual=True),
        "control_rows": riskfile.control_rows(trace, criteria_status),
        "released": released,
        "released_groups": _groups(released),
        "mdr_index": regulatory["mdr_annex_ii"], "clauses": regulatory["clauses"],
        "pccp": regulatory["pccp"],
        # release governance: the policy and approvers (the signatures are in approvals.html, outside
        # the manifest they sign) and the change report of `release diff`, when one was written
        "governance": approvals_view(Path(paths.root)),
        "changes": load_change_report(paths.at(paths.outputs.release) / CHANGES_NAME),
    })


def _provenance(dvc_lock: Path, rule: dict) -> dict:
    lock = load_yaml(dvc_lock, "dvc.lock") or {}
    return provenance.data_provenance(lock.get("stages") or {}, rule["reader_stage"],
                                      rule["synthetic_generators"])


def _documents(trace, flags: dict, criteria_status: dict, regulatory: dict, facts: dict,
               fingerprint: dict, fingerprint_path: Path, code: dict) -> dict:
    """GSPR checklist, AI Act Annex IV, threat model, post-market plan, the IEC 62304 life-cycle
    records and the open items (``code``: root, gate problems, SOUP rows and model identities)."""
    items = documents.load_list(data_files.OPEN_ITEMS, documents.OpenItem)
    resolver = documents.Resolver(trace, flags, criteria_status, regulatory["sections"],
                                  {o.id: o for o in items})
    gspr = documents.gspr_rows(resolver)
    annex_iv = documents.annex_iv_rows(resolver)
    threats = documents.threat_rows(resolver, facts)
    plan = pms.plan_view(pms.load_plan(), fingerprint, list(trace.design.criteria.values()),
                         [m["id"] for m in regulatory["pccp"]], list(resolver.open_items), fingerprint_path)
    cycle = lifecycle.view(lifecycle.load(), code["root"], trace, code["problems"], code["soup"],
                           regulatory["sections"], resolver.open_items, code["models"])
    cited = documents.citations(
        [(f"GSPR {r['item'].ref}", r["item"].open) for r in gspr]
        + [(f"AI Act Annex IV {r['item'].ref}", r["item"].open) for r in annex_iv]
        + [(f"threat {r['item'].id}", r["item"].open) for r in threats]
        + [(f"post-market plan: {o['item'].source}", o["item"].open) for o in plan["others"]]
        + [(f"IEC 62304 {label}", ids) for label, ids in cycle["cited"]])
    open_rows = documents.open_item_rows(items, cited)
    kinds = {kind: sum(1 for r in open_rows if r["item"].kind == kind) for kind in ("manufacturer input", "gap")}
    return {"gspr": gspr, "annex_iv": annex_iv, "threats": threats, "pms": plan, "lifecycle": cycle,
            "open_items": open_rows, "open_counts": {"total": len(open_rows), **kinds}}


def _curve(path: Path) -> str:
    curve = plots.read_curve(path, ("epoch", "train_loss", "val_dice"))
    return plots.line_chart(curve["epoch"], {"train loss": curve["train_loss"],
                                             "validation Dice": curve["val_dice"]},
                            f"Training curve ({path.name})")


def _groups(files: list[dict], limit: int = 10) -> list[dict]:
    """Released files by top-level folder; folders with more than ``limit`` files summarised."""
    folders: dict[str, list[dict]] = {}
    for entry in files:
        folders.setdefault(entry["path"].split("/", 1)[0] if "/" in entry["path"] else "", []).append(entry)
    return [{"folder": name, "count": len(group), "bytes": sum(f["bytes"] for f in group),
             "files": group if len(group) <= limit else []} for name, group in sorted(folders.items())]


def _released(params: TechfileParams, paths: TechfilePaths) -> list[dict]:
    """Released files other than the technical file itself and the manifest."""
    own = paths.at(paths.outputs.techfile).resolve()
    files = released_files(paths.at(paths.outputs.release), paths.at(paths.outputs.manifest))
    return [f for f in files
            if not (paths.at(paths.outputs.release) / f["path"]).resolve().is_relative_to(own)]


def _norm(path: str) -> str:
    return str(Path(path)).rstrip("/")


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise UserError(f"missing input: {path} ({what}) not found")


def _product(params: TechfileParams, pyproject: Path) -> dict:
    _require_file(pyproject, "project metadata")
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    if "version" not in project:
        raise UserError(f"{pyproject} has no project.version")
    return {"name": params.product_name, "manufacturer": params.manufacturer,
            "version": str(project["version"]), "package": str(project.get("name", ""))}


def _config(config: dict) -> dict[str, list]:
    for name in CONFIG_SECTIONS:
        if name not in config:
            raise UserError(f"missing input: params.yaml has no {name} section")
    return {name: inputs.flatten(config[name]) for name in sorted(config)}


def _test_counts(trace) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0, "missing": 0}
    for test in trace.tests.values():
        counts[test.status] += 1
    return counts


def _safety(trace, rule: dict) -> dict:
    """The IEC 62304 class from the highest initial severity; ``rule`` maps each of the risk plan's
    severity names to a class (a misspelt name leaves the plan's own without one: refused)."""
    plan, risks = trace.design.plan, list(trace.design.risks.values())
    if not risks:
        raise UserError("the hazard register (risk/hazards.yaml) is empty")
    names = plan.names("severity")
    missing = [name for name in names if name not in rule]
    if missing:
        raise UserError(f"{REGULATORY.name}: safety_class_by_severity gives no class for the risk plan's "
                        f"severity {', '.join(missing)} (it names {', '.join(map(str, rule))})")
    top = max(r.severity for r in risks)
    return {"severity": top, "software_class": rule[plan.severity_name(top)],
            "rule": {name: rule[name] for name in names}, "risks": [r.id for r in risks if r.severity == top]}


def _tests_by_requirement(trace) -> dict[str, list]:
    out: dict[str, list] = {req: [] for req in trace.design.requirements}
    for test in sorted(trace.tests.values(), key=lambda t: t.key):
        for req in test.requirements:
            out.setdefault(req, []).append(test)
    return out


def _check_ids(rows: list[dict], known: dict, where: str) -> None:
    unknown = sorted({i for r in rows for i in r["srs"] if i not in known})
    if unknown:
        raise UserError(f"{where} names unknown requirement IDs: {', '.join(unknown)}")


def _regulatory(trace) -> dict:
    data = yaml.safe_load(REGULATORY.read_text())
    for mod in data["pccp"]:
        unknown = [s for s in mod["stages"] if s not in trace.stages]
        if unknown:
            raise UserError(f"{REGULATORY.name}: {mod['id']} names stages not in dvc.yaml: "
                            + ", ".join(unknown))
        reqs = sorted({r for s in mod["stages"] for r in trace.stages[s].requirements})
        mod["requirements"] = reqs
        mod["risks"] = sorted({r for s in mod["stages"] for r in trace.stages[s].risks})
        mod["criteria"] = [c for c in trace.design.criteria.values()
                           if set(c.requirements) & set(reqs)]
    return data
