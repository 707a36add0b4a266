"""The regulatory documents kept as data: GSPR checklist, AI Act Annex IV, threat model, open items.

A quality engineer edits the YAML files in ``data/``; this module validates them (one pydantic
model per kind), checks every ID and section they name, and joins each row with the recorded
run: the verification status of the requirements it cites, the acceptance criteria and risk
controls of those requirements, the hazards the controls reduce, facts computed from the
evidence (``CHECKS``) and the open items that are still to be supplied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from pipeline.core.errors import UserError
from pipeline.core.params_base import StrictModel
from pipeline.core.yaml_io import load_model_list, load_yaml
from pipeline.design.open_items import OpenItem  # noqa: F401 - the technical file's documents name it
from pipeline.techfile.data_files import ANNEX_IV, GSPR, THREATS

FAILING = ("failed", "missing")


class _Answered(StrictModel):
    """Where a regulatory point is answered, or why it does not apply."""

    applicable: bool = True
    justification: str = ""
    sections: list[str] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    open: list[str] = Field(default_factory=list)
    note: str = ""
    performance_claim: bool = False

    @model_validator(mode="after")
    def _answer_or_justify(self):
        evidence = self.sections or self.requirements or self.needs or self.open
        if not self.applicable and (not self.justification or evidence):
            raise ValueError("a point that does not apply needs a justification and no evidence")
        if self.applicable and (self.justification or not (self.sections or self.requirements or self.open)):
            raise ValueError("an applicable point needs sections, requirements or open items "
                             "(and no justification)")
        return self


class GsprItem(_Answered):
    """One general safety and performance requirement of MDR Annex I."""

    ref: str = Field(min_length=1)
    chapter: Literal["I", "II", "III"]
    title: str = Field(min_length=1, max_length=120)
    requirement: str = Field(min_length=1)


class AnnexIvPoint(_Answered):
    """One point of the EU AI Act's Annex IV."""

    ref: str = Field(min_length=1)
    point: str = Field(min_length=1)


class Threat(StrictModel):
    """One threat to the device software and what controls it."""

    id: str = Field(pattern=r"^THR-\d{2,3}$")
    title: str = Field(min_length=1, max_length=120)
    stride: Literal["spoofing", "tampering", "repudiation", "information disclosure",
                    "denial of service", "elevation of privilege"]
    asset: str = Field(min_length=1)
    entry: str = Field(min_length=1)
    effect: str = Field(min_length=1)
    requirements: list[str] = Field(default_factory=list)
    checks: list[Literal["data_provenance", "model_digests", "lock_hashes", "sbom_hashes",
                         "soup_reviews", "deid_leaks", "deid_retained"]] = Field(default_factory=list)
    residual: str = Field(min_length=1)
    open: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _controlled_or_open(self):
        if not self.requirements and not self.open:
            raise ValueError("a threat needs a controlling requirement or an open item")
        return self


def load_list(path: Path, model: type[StrictModel]) -> list:
    """A YAML list of ``model`` entries; a problem is a ``UserError`` naming the file and entry.

    Args:
        path: the data file.
        model: the pydantic model of one entry.
    """
    return load_model_list(path, model, "technical file data")


def referenced_requirements(*paths: Path) -> set[str]:
    """Every SRS ID the data files name (what a design set must hold to render them)."""
    ids: set[str] = set()
    for path in paths or (GSPR, ANNEX_IV, THREATS):
        for entry in load_yaml(path, "technical file data") or []:
            ids |= set(entry.get("requirements") or [])
    return ids


class Resolver:
    """Joins data rows with the recorded run; unknown IDs or sections are ``UserError``s.

    Args:
        trace: the trace graph (design set, implemented-by links, verifiers).
        flags: node -> status flags (``pipeline.trace.status.node_flags``).
        criteria_status: criterion ID -> PASS / FAIL / INCONCLUSIVE.
        sections: section anchors of the book -> titles.
        open_items: the open items by ID.
    """

    def __init__(self, trace, flags: dict, criteria_status: dict, sections: dict,
                 open_items: dict[str, OpenItem]):
        self.trace, self.flags, self.criteria_status = trace, flags, criteria_status
        self.sections, self.open_items = sections, open_items

    def check(self, where: str, sections=(), requirements=(), needs=(), open_ids=()) -> None:
        """Raise ``UserError`` naming every ID or section ``where`` cites that does not exist."""
        design = self.trace.design
        unknown = [s for s in sections if s not in self.sections]
        unknown += [r for r in requirements if r not in design.requirements]
        unknown += [n for n in needs if n not in design.user_needs]
        unknown += [o for o in open_ids if o not in self.open_items]
        if unknown:
            raise UserError(f"{where} names unknown IDs or sections: {', '.join(unknown)}")

    def evidence(self, requirements: list[str]) -> dict:
        """Status of the cited requirements, their criteria, controls and the hazards controlled."""
        design = self.trace.design
        reqs = [(r, sorted(self.flags.get(r, set()) & set(FAILING))) for r in requirements]
        criteria = [(c.id, self.criteria_status.get(c.id, "missing")) for c in design.criteria.values()
                    if set(c.requirements) & set(requirements)]
        controls = sorted({c for r in requirements for c in design.requirements[r].implements})
        risks = [h.id for h in design.risks.values() if set(h.controls) & set(controls)]
        failing = any(flags for _, flags in reqs) or any(s == "FAIL" for _, s in criteria)
        return {"requirements": reqs, "criteria": criteria, "controls": controls, "risks": risks,
                "failing": failing}

    def row(self, item: _Answered, where: str) -> dict:
        """A GSPR or Annex IV row: the item, its joined evidence and its status."""
        self.check(where, item.sections, item.requirements, item.needs, item.open)
        evidence = self.evidence(item.requirements)
        if not item.applicable:
            state = "not applicable"
        elif item.open:
            state = "open"
        else:
            state = "failing" if evidence["failing"] else "evidenced"
        return {"item": item, "status": state, **evidence,
                "open_items": [self.open_items[o] for o in item.open]}


def gspr_rows(resolver: Resolver, path: Path = GSPR) -> list[dict]:
    """The Annex I checklist joined with the recorded run."""
    return [resolver.row(g, f"{path.name} GSPR {g.ref}") for g in load_list(path, GsprItem)]


def annex_iv_rows(resolver: Resolver, path: Path = ANNEX_IV) -> list[dict]:
    """The AI Act Annex IV cross-reference joined with the recorded run."""
    return [resolver.row(p, f"{path.name} point {p.ref}") for p in load_list(path, AnnexIvPoint)]


def threat_rows(resolver: Resolver, facts: dict[str, dict], path: Path = THREATS) -> list[dict]:
    """The threat model joined with the recorded run.

    Args:
        resolver: the joiner.
        facts: check name -> ``{"text", "status"}`` computed from the evidence (``checks``).
        path: the data file.
    """
    rows = []
    for threat in load_list(path, Threat):
        resolver.check(f"{path.name} {threat.id}", requirements=threat.requirements, open_ids=threat.open)
        rows.append({"item": threat, **resolver.evidence(threat.requirements),
                     "facts": [facts[c] for c in threat.checks],
                     "open_items": [resolver.open_items[o] for o in threat.open]})
    return rows


def open_item_rows(items: list[OpenItem], cited: dict[str, list[str]]) -> list[dict]:
    """Every open item with the rows that cite it; each counts on the cover.

    Args:
        items: from ``load_list(OPEN_ITEMS, OpenItem)``.
        cited: open item ID -> labels of the rows citing it (e.g. ``GSPR 17.4``).
    """
    return [{"item": item, "cited_by": cited.get(item.id, [])} for item in items]


def citations(rows: list[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """Open item ID -> labels of the rows naming it, in document order.

    Args:
        rows: ``(label, open item IDs)`` of every row of every document (e.g. ``("GSPR 17.4",
            ["OPEN-05"])``).
    """
    out: dict[str, list[str]] = {}
    for label, open_ids in rows:
        for open_id in open_ids:
            out.setdefault(open_id, []).append(label)
    return out


def facts(origin: dict, models: list[dict], lock_file: Path, sbom_components: list[dict],
          soup_rows: list[dict], deid: dict | None, deid_path: Path) -> dict[str, dict]:
    """The facts the threat model's ``checks`` quote, computed from the recorded run.

    Each is ``{"text": ..., "status": "passed" | "warning" | "failed"}``.

    Args:
        origin: the data provenance (``provenance.data_provenance``).
        models: ``inputs.model_checks`` (verified against released SHA-256).
        lock_file: ``requirements.lock``.
        sbom_components: the CycloneDX components of this release.
        soup_rows: ``soup.soup_list``.
        deid: ``metrics/deid.json`` (``pipeline.deid.record.DeidReport``, as recorded); None when the
            de-identification stage is not part of this run (a data profile's own data).
        deid_path: its path, for messages.
    """
    if deid is not None and "leaks" not in deid["leak_check"]:  # the record allows a skipped check (the de-identifier's benchmark)
        raise UserError(f"{deid_path}: the leak check was not run (leak_check.enabled is false): a release "
                        "needs the de-identification stage's own report")
    lines = [line.split("#", 1)[0] for line in lock_file.read_text().splitlines()]
    pins = sum(1 for line in lines if "==" in line)
    hashed_pins = sum(1 for line in lines if "==" in line and "--hash=" in line)
    hashed = sum(1 for c in sbom_components if c.get("hashes"))
    bases = [p["value"] for c in sbom_components for p in c.get("properties", []) if p["name"] == "pipeline:hash_basis"]
    from_lock = sum(1 for b in bases if "requirements.lock admits" in b)
    basis = (f" ({from_lock} from the lock's --hash, {len(bases) - from_lock} digests of the installed "
             "distribution's RECORD, which are not wheel-file hashes)" if bases else "")
    direct = [r for r in soup_rows if r["direct"]]
    open_reviews = sum(1 for r in direct if r["anomaly_review"] == "open")
    matching = sum(1 for m in models if m["match"])
    if origin["synthetic"]:
        data_text = (f"the recorded data is the synthetic cohort of stage {origin['generator']}: "
                     "no clinical data was exposed to poisoning in this run")
    else:
        data_text = (f"the recorded data was read by the {origin['format']} reader from "
                     f"{origin['origin']}; its integrity before that point is not recorded")
    return {
        "data_provenance": {"text": data_text, "status": "passed" if origin["synthetic"] else "warning"},
        "model_digests": {"text": f"{matching} of {len(models)} verified model file(s) match the SHA-256 "
                                  "recorded by V&V", "status": "passed" if matching == len(models) else "failed"},
        "lock_hashes": {"text": f"{lock_file.name}: {hashed_pins} of {pins} pins carry a --hash (pip "
                                "--require-hashes)", "status": "passed" if pins and hashed_pins == pins else "warning"},
        "sbom_hashes": {"text": f"SBOM: {hashed} of {len(sbom_components)} components carry a SHA-256{basis}",
                        "status": "passed" if sbom_components and hashed == len(sbom_components) else "warning"},
        "soup_reviews": {"text": f"{open_reviews} of {len(direct)} direct SOUP anomaly reviews open",
                         "status": "passed" if not open_reviews else "warning"},
        **_deid_facts(deid, deid_path, origin)}


def _deid_facts(deid: dict | None, deid_path: Path, origin: dict) -> dict[str, dict]:
    """The de-identification facts; None: the de-identification stage is not part of this run."""
    if deid is None:
        text = (f"not part of this profile's run: the data was read by the {origin['format']} reader from "
                f"{origin['origin']} without passing the de-identification stage; whether it holds personal "
                "data is the user's to establish")
        return {"deid_leaks": {"text": text, "status": "warning"},
                "deid_retained": {"text": text, "status": "warning"}}
    leaks = deid["leak_check"]["leaks"]
    retained = sorted(k for k, v in deid["profile"]["options"].items() if k.startswith("retain_") and v)
    return {
        "deid_leaks": {"text": f"independent leak check: {leaks} leak(s) in "
                               f"{deid['leak_check']['outputs_checked']} outputs checked ({deid_path.name})",
                       "status": "passed" if leaks == 0 else "failed"},
        "deid_retained": {"text": "Annex E options retained: " + (", ".join(retained) or "none")
                                  + (" (pseudonymised data: still personal data)" if retained else ""),
                          "status": "warning" if retained else "passed"},
    }
