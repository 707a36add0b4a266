"""Regulatory documents as data: provenance from dvc.lock, GSPR / Annex IV / threats / PMS data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.design.load import load_design
from pipeline.techfile import data_files, documents, lifecycle, pms
from pipeline.techfile.provenance import data_provenance, group_labels

REPO = Path(__file__).resolve().parents[2]
GENERATORS = {"cohort": "a synthetic cohort"}
COHORT = {"seed": 7, "sites": [{"name": "site-a", "institution": "St Aurelia", "manufacturer": "SIEMENS"}],
          "external": {"seed": 8, "sites": [{"name": "site-d", "institution": "Dunmore", "manufacturer": "Canon"}]}}


def _lock(preprocess_source: dict | None, deid_source: str = "data/raw") -> dict:
    stages = {"cohort": {"outs": [{"path": "data/raw"}, {"path": "metrics/cohort.json"}],
                         "params": {"params.yaml": {"cohort": COHORT}}},
              "deid": {"outs": [{"path": "data/deid"}, {"path": "data/deid_quarantine"}],
                       "params": {"params.yaml": {"deid": {"source": deid_source, "workers": 2}}}},
              "preprocess": {"outs": [{"path": "data/preprocessed"}]}}
    if preprocess_source is not None:
        stages["preprocess"]["params"] = {"params.yaml": {"preprocess": {"source": preprocess_source}}}
    return stages


@pytest.mark.verifies("SRS-DOC-005")
def test_the_default_chain_from_the_cohort_stage_is_synthetic_with_its_invented_sites():
    origin = data_provenance(_lock({"format": "dicom", "path": "./data/deid", "classes": [{"name": "lesion"}]}),
                             "preprocess", GENERATORS)
    assert origin["synthetic"] and origin["kind"] == "synthetic" and origin["generator"] == "cohort"
    assert [step["stage"] for step in origin["chain"]] == ["preprocess", "deid", "cohort"]
    assert origin["path"] == "data/deid" and origin["format"] == "dicom" and origin["seed"] == 7
    assert origin["sites"] == {"Dunmore": {"name": "site-d", "manufacturer": "Canon"},
                               "St Aurelia": {"name": "site-a", "manufacturer": "SIEMENS"}}
    labels = group_labels(origin)
    assert labels["site"]["Dunmore"] == "Dunmore (synthetic site)"
    assert labels["manufacturer"]["SIEMENS"] == "SIEMENS (simulated scanner)"


@pytest.mark.verifies("SRS-DOC-005")
@pytest.mark.parametrize("source, deid_source, origin", [
    ({"format": "msd", "path": "/data/Task03_Liver"}, "data/raw", "/data/Task03_Liver"),
    ({"format": "dicom", "path": "data/deid"}, "/mnt/pacs-export", "/mnt/pacs-export"),  # cohort stage unused
])
def test_a_configured_source_is_the_users_data_never_synthetic(source, deid_source, origin):
    found = data_provenance(_lock(source, deid_source), "preprocess", GENERATORS)
    assert not found["synthetic"] and found["kind"] == "external" and found["origin"] == origin
    assert found["format"] == source["format"] and found["sites"] == {}
    assert group_labels(found) == {"site": {}, "manufacturer": {}}


@pytest.mark.verifies("SRS-DOC-005")
def test_a_source_left_null_is_the_input_the_upstream_stage_wrote():
    lock = _lock({"format": "dicom", "path": None, "classes": [{"name": "lesion"}]}, deid_source=None)
    lock["preprocess"]["deps"] = [{"path": "pipeline/preprocess"}, {"path": "data/deid"}]
    lock["deid"]["deps"] = [{"path": "pipeline/deid"}, {"path": "data/raw"}]
    origin = data_provenance(lock, "preprocess", GENERATORS)
    assert origin["synthetic"] and [step["stage"] for step in origin["chain"]] == ["preprocess", "deid", "cohort"]
    assert origin["path"] == "data/deid"
    lock["preprocess"]["deps"].append({"path": "metrics/cohort.json"})  # two inputs: which one is the data?
    with pytest.raises(UserError, match="neither a source path nor one input"):
        data_provenance(lock, "preprocess", GENERATORS)


@pytest.mark.verifies("SRS-DOC-005")
def test_provenance_without_a_recorded_source_fails_naming_it():
    with pytest.raises(UserError, match="dvc.lock records no preprocess source"):
        data_provenance(_lock(None), "preprocess", GENERATORS)
    with pytest.raises(UserError, match="dvc.lock has no entry for stage preprocess"):
        data_provenance({}, "preprocess", GENERATORS)


@pytest.mark.verifies("SRS-DOC-006")
def test_the_repository_data_is_valid_and_covers_the_required_gspr():
    gspr = documents.load_list(documents.GSPR, documents.GsprItem)
    refs = {g.ref for g in gspr}
    assert {str(n) for n in range(1, 10)} | {"17.1", "17.2", "17.3", "17.4", "22", "23.1", "23.2", "23.4"} <= refs
    assert any(r.startswith("14.") for r in refs)
    assert all(g.justification for g in gspr if not g.applicable)
    annex = documents.load_list(documents.ANNEX_IV, documents.AnnexIvPoint)
    assert {p.ref for p in annex} >= {"1(a)", "2(d)", "2(e)", "2(g)", "3", "4", "5", "6", "7", "8", "9"}
    threats = documents.load_list(documents.THREATS, documents.Threat)
    titles = " ".join(t.title.lower() for t in threats)
    for threat in ("poisoning", "tampering", "evasion", "supply-chain", "protected health information"):
        assert threat in titles, threat
    items = {o.id for o in documents.load_list(data_files.OPEN_ITEMS, documents.OpenItem)}
    plan = pms.load_plan()
    cited = {o for rows in (gspr, annex, threats) for row in rows for o in row.open}
    cited |= {o for source in plan.other_sources for o in source.open}
    cited |= {o for process in lifecycle.load().processes for step in process.steps for o in step.open}
    assert cited <= items and items <= cited, "every open item is named by a row, and exists"
    design = load_design(REPO)
    named = documents.referenced_requirements()
    assert named <= set(design.requirements), sorted(named - set(design.requirements))


@pytest.mark.verifies("SRS-DOC-006")
def test_the_quality_engineers_documents_live_at_the_top_and_the_techfile_stage_depends_on_them():
    folder = data_files.FOLDER.relative_to(REPO).as_posix()
    files = [data_files.REGULATORY, data_files.SOUP_DATA, data_files.GSPR, data_files.ANNEX_IV,
             data_files.THREATS, data_files.OPEN_ITEMS, data_files.PMS, data_files.LIFECYCLE]
    assert sorted(p.name for p in files) == sorted(p.name for p in data_files.FOLDER.glob("*.yaml"))
    assert all(p.is_file() and p.parent == data_files.FOLDER for p in files)
    deps = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["techfile"]["deps"]
    assert folder in deps, f"dvc.yaml: the techfile stage renders {folder}/ and must depend on it"


@pytest.mark.verifies("SRS-DOC-006")
@pytest.mark.parametrize("entry, message", [
    ({"ref": "10", "chapter": "II", "title": "t", "requirement": "r", "applicable": False},
     "needs a justification"),
    ({"ref": "1", "chapter": "I", "title": "t", "requirement": "r"}, "needs sections, requirements"),
    ({"ref": "16", "chapter": "II", "title": "t", "requirement": "r", "applicable": False,
      "justification": "no radiation", "sections": ["gspr"]}, "needs a justification and no evidence"),
    ({"ref": "1", "chapter": "IV", "title": "t", "requirement": "r", "sections": ["gspr"]}, "chapter"),
])
def test_a_gspr_entry_without_evidence_or_justification_fails_naming_it(tmp_path, entry, message):
    path = tmp_path / "gspr.yaml"
    path.write_text(yaml.safe_dump([entry]))
    with pytest.raises(UserError, match=rf"gspr.yaml: entry {entry['ref']} is not valid: .*{message}"):
        documents.load_list(path, documents.GsprItem)


@pytest.mark.verifies("SRS-DOC-006")
def test_a_threat_without_control_or_open_item_fails(tmp_path):
    path = tmp_path / "threats.yaml"
    path.write_text(yaml.safe_dump([{"id": "THR-09", "title": "t", "stride": "tampering", "asset": "a",
                                     "entry": "e", "effect": "x", "residual": "r"}]))
    with pytest.raises(UserError, match="THR-09 is not valid: .*controlling requirement or an open item"):
        documents.load_list(path, documents.Threat)


@pytest.mark.verifies("SRS-DOC-006")
def test_unknown_ids_and_sections_in_the_data_fail_naming_them():
    design = SimpleNamespace(requirements={"SRS-DOC-001": None}, user_needs={"URS-001": None})
    resolver = documents.Resolver(SimpleNamespace(design=design), {}, {}, {"gspr": "GSPR"}, {})
    resolver.check("gspr.yaml GSPR 1", ["gspr"], ["SRS-DOC-001"], ["URS-001"], [])
    with pytest.raises(UserError, match="gspr.yaml GSPR 1 names unknown IDs or sections: "
                                        "nowhere, SRS-DOC-999, URS-009, OPEN-99"):
        resolver.check("gspr.yaml GSPR 1", ["nowhere"], ["SRS-DOC-999"], ["URS-009"], ["OPEN-99"])


@pytest.mark.verifies("SRS-DOC-006")
def test_drift_references_are_computed_from_the_fingerprint(tmp_path):
    fingerprint = {"all": {"spacing_min": [0.6, 0.6, 2.0], "spacing_max": [0.9, 0.9, 3.0],
                           "label_ml_min": 0.3, "label_ml_max": 4.6, "manufacturers": ["GE", "SIEMENS"]},
                   "per_site": {"a": {"foreground_intensity": {"p50": 13.0}},
                                "b": {"foreground_intensity": {"p50": 116.0}}}}
    source = tmp_path / "fingerprint.json"
    ref = pms.reference
    assert ref(fingerprint, pms.Reference(kind="range", key="spacing", axis=2), source) == {"low": 2.0, "high": 3.0}
    assert ref(fingerprint, pms.Reference(kind="range", key="label_ml"), source) == {"low": 0.3, "high": 4.6}
    assert ref(fingerprint, pms.Reference(kind="set", key="manufacturers"), source) == {"values": ["GE", "SIEMENS"]}
    assert ref(fingerprint, pms.Reference(kind="site_range", key="foreground_intensity.p50"), source) == \
        {"low": 13.0, "high": 116.0}
    with pytest.raises(UserError, match=r"fingerprint.json has no all.shape_min \(needed by the post-market plan"):
        ref(fingerprint, pms.Reference(kind="range", key="shape", axis=0), source)


@pytest.mark.verifies("SRS-DOC-006")
def test_a_slice_axis_reference_is_not_applicable_to_2d_images_and_a_wrong_axis_still_an_error(tmp_path):
    fingerprint = {"all": {"spacing_min": [1.0, 1.0], "spacing_max": [1.0, 1.0]}, "per_site": {}}
    source = tmp_path / "fingerprint.json"
    assert pms.reference(fingerprint, pms.Reference(kind="range", key="spacing", axis=0), source) == \
        {"low": 1.0, "high": 1.0}
    assert pms.reference(fingerprint, pms.Reference(kind="range", key="spacing", axis=2), source) == \
        {"not_applicable": "not applicable: the data has 2 spatial axes, no axis 2"}
    with pytest.raises(UserError, match="give an axis below 2"):
        pms.reference(fingerprint, pms.Reference(kind="range", key="spacing", axis=5), source)


@pytest.mark.verifies("SRS-DOC-002")
def test_every_hazard_of_the_register_gives_its_probability_and_reduction_rationale():
    risks = load_design(REPO).risks.values()
    assert [r.id for r in risks if not (r.probability_rationale and r.reduction_rationale)] == []
    for risk in risks:  # each reduction names the controls it rests on
        assert all(c in risk.reduction_rationale for c in risk.controls), risk.id
