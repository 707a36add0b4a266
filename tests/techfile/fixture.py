"""A small, complete recorded run in a temporary folder, built with the real design-item models.

Everything the technical file reads is here: design items, a fake dvc.yaml/dvc.lock, metrics
JSON, a junit report with ``verifies`` properties, an MLflow SQLite store, a tiny evidence PNG,
a released model file, a git commit with a fixed date. ``make_run(root)`` builds it; keyword
arguments break one thing (a failed criterion).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import yaml
from PIL import Image

from pipeline.design.items import (
    PLAN, AcceptanceCriterion, Hazard, RiskControl, SoftwareRequirement, Subgroup, UserNeed,
)
from pipeline.core.provenance import source_state
from pipeline.design.risk_plan import RiskPlan, ScaleLevel
from pipeline.techfile.documents import referenced_requirements
from pipeline.techfile.params import TechfileParams
from pipeline.techfile.soup import load_purposes
from pipeline.trace import reviews as rv
from pipeline.trace.graph import TracePaths, build_trace
from tests import records
from tests.paths import PATHS

REPO = Path(__file__).resolve().parents[2]
DATE = "2026-01-02T03:04:05+00:00"
STAGES = ("cohort", "deid", "preprocess", "train", "compress", "export", "verify")
MODEL_VERSION = "2.3.0"  # deliberately not the software version of pyproject.toml


def _tiny_onnx() -> bytes:
    """A real, minimal ONNX file carrying the export stage's identity metadata."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "fixture",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, "x"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, "x"])])
    model = helper.make_model(graph, producer_name="fixture", opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, {"model_version": MODEL_VERSION, "model_role": "teacher",
                                   "training_run_id": "f" * 32, "git_commit": "1" * 40,
                                   "runtime": '{"name": "onnxruntime-cpu", "version": "1.0"}'})
    return model.SerializeToString(deterministic=True)


ONNX_BYTES = _tiny_onnx()
TRACE_PAGES = 12
PARAMS = TechfileParams(product_name="Fixture Lesion Segmenter", manufacturer="Fixture Devices")
# hazard register text as long as the real register's, so the PDF layout is tested with real widths
HAZARD_TEXT = ("Clinical studies are exported for development; an identifier survives de-identification "
               "and is copied into the training data, logs or released documents.")


SYNTHETIC_SOURCE = {"format": "dicom", "path": "data/deid", "classes": [{"name": "lesion"}]}
COHORT_PARAMS = {"seed": 11, "sites": [
    {"name": "a", "institution": "site-a", "manufacturer": "SIEMENS"},
    {"name": "b", "institution": "site-b", "manufacturer": "GE"}],
    "external": {"seed": 12, "sites": [
        {"name": "d", "institution": "Dunmore Community Hospital", "manufacturer": "Canon"}]}}


def requirement_ids() -> list[str]:
    """Every SRS the SOUP purposes and the regulatory data name, plus the technical file's own."""
    ids = {i for p in load_purposes().values() for i in p.srs} | referenced_requirements()
    return sorted(ids | {f"SRS-DOC-00{n}" for n in range(1, 5)})


def make_run(root: Path, failed_criterion: bool = False, data_source: dict | None = None) -> dict:
    """Write the recorded run under ``root`` and commit it; return the params config mapping.

    Args:
        root: an empty folder.
        failed_criterion: make VAL-001 fail (the release must become not releasable).
        data_source: the ``preprocess.source`` recorded in dvc.lock; default: the de-identified
            output of the synthetic cohort stage.
    """
    root.mkdir(parents=True, exist_ok=True)
    reqs = requirement_ids()
    _design(root, reqs)
    _tests_and_junit(root, reqs)
    _pipeline(root, reqs, data_source or SYNTHETIC_SOURCE)
    _metrics(root, failed_criterion)
    _mlflow(root)
    _record_outputs(root)
    shutil.copy(REPO / "requirements.lock", root / "requirements.lock")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    _dump(root / "params.yaml", {"paths": PATHS.model_dump()})  # where release governance finds the release
    trace = build_trace(TracePaths.of(root, PATHS))
    rv.save_reviews(root / rv.REVIEWS, {n: rv.review_record(o, t)
                                        for n, (o, t) in trace.reviewable().items()})
    (root / ".gitignore").write_text("/reports/\n")  # as in the project: the test report is not committed
    _commit(root)
    _tests_and_junit(root, reqs, source=source_state(root))  # make test, run on the committed sources
    return {"deid": {"options": {"retain_uids": False, "clean_graphics": False}},
            "train": {"epochs": 2, "network": {"channels": [4, 8]}},
            "techfile": PARAMS.model_dump(mode="json")}


def _dump(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _items(models) -> list[dict]:
    return [m.model_dump(mode="json") for m in models]


def _design(root: Path, reqs: list[str]) -> None:
    needs = [UserNeed(id="URS-001", kind="intended_use", title="Segment lesions",
                      text="Segments one lesion in adult CT for review.", rationale="purpose"),
             UserNeed(id="URS-002", kind="user", title="Radiologists",
                      text="Radiologists review every output.", rationale="users"),
             UserNeed(id="URS-003", kind="environment", title="On premises",
                      text="Hospital servers without internet.", rationale="environment")]
    _dump(root / "requirements/user_needs.yaml", _items(needs))
    items = []
    for n, rid in enumerate(reqs):
        implements = ["RC-001"] if rid == "SRS-DOC-001" else ["RC-002"] if rid == "SRS-DOC-004" else []
        items.append(SoftwareRequirement(id=rid, title=f"Requirement {rid}", kind="functional",
                                         text=f"The software does {rid}.", rationale="fixture",
                                         derives_from=[f"URS-00{n % 3 + 1}"], implements=implements))
    _dump(root / "requirements/software/all.yaml", _items(items))
    levels = [ScaleLevel(level=i, name=f"level{i}", definition=f"definition {i}") for i in (1, 2, 3)]
    # the severities bear the shipped plan's names: regulatory.yaml's safety class rule is keyed by them
    severities = [ScaleLevel(level=i, name=name, definition=f"definition {i}")
                  for i, name in enumerate(("negligible", "minor", "serious"), start=1)]
    plan = RiskPlan(scope="fixture scope", severity=severities, probability=levels,
                    regions={"acceptable": "ok", "alarp": "reduce", "unacceptable": "no"},
                    matrix=[["acceptable", "acceptable", "alarp"], ["acceptable", "alarp", "unacceptable"],
                            ["alarp", "unacceptable", "unacceptable"]],
                    overall_residual_risk_policy="acceptable when no residual risk is unacceptable")
    _dump(root / "risk/plan.yaml", plan.model_dump(mode="json"))
    # the register names the plan's levels (severity: serious); the model holds the level (3)
    risks = [dict(id=f"RISK-00{n}", title=f"Hazard {n} with a realistic title", hazard=HAZARD_TEXT,
                  sequence_of_events=HAZARD_TEXT, hazardous_situation=HAZARD_TEXT, harm=HAZARD_TEXT,
                  severity="serious", probability=f"level{n + 1}", controls=[f"RC-00{n}"],
                  residual_severity="minor" if n == 2 else "negligible", residual_probability="level1",
                  probability_rationale=f"Probability rationale {n}: " + HAZARD_TEXT,
                  reduction_rationale=f"Reduction rationale {n}: " + HAZARD_TEXT) for n in (1, 2)]
    for row in risks:
        Hazard.model_validate(row, context={PLAN: plan})  # what the loader would refuse fails here
    _dump(root / "risk/hazards.yaml", risks)
    controls = [RiskControl(id="RC-001", title="Control one", kind="protective_measure",
                            description="measure one", effectiveness="criterion passes",
                            effectiveness_evidence=["VAL-001"]),
                RiskControl(id="RC-002", title="Warn the user", kind="information_for_safety",
                            description="labeling warns", effectiveness="shown in labeling",
                            effectiveness_evidence=["SRS-DOC-004"])]
    _dump(root / "risk/controls.yaml", _items(controls))
    criteria = [AcceptanceCriterion(id="VAL-001", title="Mean Dice", requirements=["SRS-VNV-002"],
                                    models=["teacher", "compressed"], split="test", metric="dice",
                                    statistic="point", comparison=">=", threshold=0.8),
                AcceptanceCriterion(id="VAL-002", title="Dice per site", requirements=["SRS-VNV-003"],
                                    models=["compressed"], split="test", metric="dice",
                                    statistic="ci95_lower", comparison=">=", threshold=0.7,
                                    subgroup=Subgroup(by="site", min_size=2))]
    _dump(root / "verification/criteria.yaml", {"criteria": _items(criteria)})


def _tests_and_junit(root: Path, reqs: list[str], source: str | None = None) -> None:
    lines = ["import pytest", ""]
    cases = []
    for n, rid in enumerate(reqs):
        lines += [f'@pytest.mark.verifies("{rid}")', f"def test_{n}():", "    pass", ""]
        cases.append(f'<testcase classname="tests.test_fixture" name="test_{n}" time="0.01">'
                     f'<properties><property name="verifies" value="{rid}"/></properties></testcase>')
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests/test_fixture.py").write_text("\n".join(lines))
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "reports/junit.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'tests="{len(cases)}">'
        + (f'<properties><property name="source_commit" value="{source}"/></properties>' if source else "")
        + "".join(cases) + "</testsuite></testsuites>\n")


def _pipeline(root: Path, reqs: list[str], source: dict) -> None:
    outs = {"cohort": "data/raw", "deid": "data/deid", "preprocess": "data/preprocessed",
            "train": "models/teacher.pt", "compress": "models/candidates",
            "export": "release/models", "verify": "metrics/vnv.json"}
    spec, lock, previous = {}, {}, None
    for n, name in enumerate(STAGES):
        deps = [f"pipeline/{name}"] + ([outs[previous]] if previous else [])
        spec[name] = {"desc": f"{name} stage", "cmd": f"python -m pipeline {name}", "deps": deps,
                      "outs": [outs[name]], "meta": {"requirements": reqs[n::len(STAGES) + 1],
                                                     "risks": ["RISK-001"] if n % 2 else ["RISK-002"]}}
        lock[name] = {"cmd": spec[name]["cmd"],
                      "deps": [{"path": d, "md5": _md5(d)} for d in deps],
                      "outs": [{"path": outs[name], "md5": _md5(outs[name])}]}
        recorded = {"cohort": {"cohort": COHORT_PARAMS}, "deid": {"deid": {"source": outs["cohort"]}},
                    "preprocess": {"preprocess": {"source": source}}}.get(name)
        if recorded:  # the parameters each stage ran with, as DVC records them
            lock[name]["params"] = {"params.yaml": recorded}
        previous = name
    spec["techfile"] = {"desc": "technical file", "cmd": "python -m pipeline techfile",
                        "deps": ["metrics/vnv.json"], "outs": ["release/techfile", "release/manifest.json"],
                        "meta": {"requirements": reqs[len(STAGES)::len(STAGES) + 1],
                                 "risks": ["RISK-001", "RISK-002"]}}
    _dump(root / "dvc.yaml", {"stages": spec})
    _dump(root / "dvc.lock", {"schema": "2.0", "stages": lock})


def _record_outputs(root: Path) -> None:
    """Give every output in the fake dvc.lock content and record its real hash, as a run does."""
    from pipeline.trace.workspace import dvc_md5

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    for entry in lock["stages"].values():
        for out in entry["outs"]:
            path = root / out["path"]
            if not path.exists():
                if path.suffix:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(f"{out['path']}\n".encode())
                else:
                    path.mkdir(parents=True)
                    (path / "placeholder.txt").write_text(f"{out['path']}\n")
            out["md5"] = dvc_md5(path)
    produced = {out["path"]: out["md5"] for entry in lock["stages"].values() for out in entry["outs"]}
    for entry in lock["stages"].values():
        for dep in entry["deps"]:
            dep["md5"] = produced.get(dep["path"], dep["md5"])
    _dump(root / "dvc.lock", lock)


def _md5(path: str) -> str:
    return hashlib.md5(path.encode()).hexdigest()


def _metrics(root: Path, failed: bool) -> None:
    m = root / "metrics"
    m.mkdir(parents=True, exist_ok=True)
    value = 0.62 if failed else 0.91
    status = "FAIL" if failed else "PASS"
    estimate = records.estimate(value, value - 0.05, value + 0.03, 4)
    v1 = records.model_result(status, value, 0.8, "point vs 0.8", estimate)
    sub = {"site-a": {**records.model_result("PASS", 0.88, 0.7, "ok", estimate, statistic="ci95_lower"), "n_cases": 2},
           "site-b": {**records.model_result("INCONCLUSIVE", None, 0.7, "1 case(s) with a value, below the minimum of 2",
                                             estimate, statistic="ci95_lower"), "n_cases": 1}}
    teacher_sha = hashlib.sha256(ONNX_BYTES).hexdigest()
    (m / "evidence").mkdir(exist_ok=True)
    Image.new("RGB", (8, 6), (200, 30, 30)).save(m / "evidence/case-best.png")
    vnv = records.vnv(
        {"VAL-001": records.criterion("VAL-001", status, {"teacher": v1, "compressed": v1}),
         "VAL-002": records.criterion("VAL-002", "PASS", {"compressed": records.subgroup_result("PASS", 0.86, 0.7, sub)},
                                      threshold=0.7, statistic="ci95_lower", requirements=("SRS-VNV-003",),
                                      subgroup={"by": "site", "min_size": 2})},
        models={"teacher": records.verified_model("release/models/teacher.onnx", teacher_sha)},
        summary={"teacher": records.metric_summary(records.estimate(0.91, 0.86, 0.94, 4)),
                 "compressed": records.metric_summary(records.estimate(0.897, 0.851, 0.932, 4))},
        subgroups={"teacher": {"site": {"site-a": records.metric_summary(
            records.estimate(0.923, 0.871, 0.951, 3), n_cases=3,
            sensitivity=records.estimate(0.944, 0.902, 0.977, 3))}}},
        external_split=records.locked_split(cases=1, identity="e" * 64, split="external",
                                            sites=("Dunmore Community Hospital",), history=[
            records.evaluation("external", "e" * 64, {"teacher": teacher_sha}, "releasable")]),
        test_split=records.locked_split(cases=1, identity="c" * 64, history=[
            records.evaluation("test", "c" * 64, {"teacher": None}, "not releasable", ("VAL-001",),
                               source="recorded by hand", git_commit="1" * 40),
            records.evaluation("test", "c" * 64, {"teacher": teacher_sha}, "not releasable" if failed else "releasable",
                               ("VAL-001",) if failed else ())]),
        evidence=[records.evidence_image("metrics/evidence/case-best.png", caption="Grad-CAM, best case, Dice 0.93",
                                         sha256=hashlib.sha256((m / "evidence/case-best.png").read_bytes()).hexdigest())])
    files = {"vnv.json": vnv,
             "train.json": records.train_metrics(),
             "compress.json": records.compress_metrics(shipped=not failed),
             "export.json": records.export_metrics(),
             "deid.json": records.deid_report(),
             "cohort.json": records.cohort_summary(),
             "fingerprint.json": records.fingerprint(_fp(["SIEMENS", "GE"]),
                                                     {"site-a": _fp(["SIEMENS"]), "site-b": _fp(["GE"])})}
    for name, data in files.items():
        (m / name).write_text(json.dumps(data, indent=2))
    (m / "train_curve.csv").write_text("epoch,train_loss,val_dice,lr,seconds\n1,0.9,0.5,0.003,1.0\n"
                                       "2,0.4,0.9,0.001,2.0\n")
    cases = {"train": ["P1", "P2"], "val": ["P3"], "test": ["P4"]}
    splits = records.splits({s: [records.split_case(f"{p}-c", p, "0" * 64, "a") for p in ps] for s, ps in cases.items()},
                            locked=("test",), seed=5)
    (root / "data").mkdir(exist_ok=True)
    (root / "data/splits.json").write_text(json.dumps(splits))
    (root / "release/models").mkdir(parents=True, exist_ok=True)
    (root / "release/models/teacher.onnx").write_bytes(ONNX_BYTES)
    (root / "release/trace").mkdir(parents=True, exist_ok=True)
    for n in range(TRACE_PAGES):
        (root / f"release/trace/page{n:02d}.html").write_text(f"<p>trace page {n}</p>")


def _fp(manufacturers: list[str]) -> dict:
    return records.fingerprint_summary(3, 2, [30, 30, 10], [34, 34, 14], [0.8, 0.8, 2.0], [1.2, 1.2, 3.0],
                                       manufacturers, p50=95.0 + len(manufacturers))


def _mlflow(root: Path) -> None:
    with sqlite3.connect(root / "mlflow.db") as con:
        con.execute("CREATE TABLE runs (run_uuid TEXT, status TEXT, lifecycle_stage TEXT, start_time INT)")
        con.execute("CREATE TABLE tags (run_uuid TEXT, key TEXT, value TEXT)")
        for n, stage in enumerate(STAGES):
            con.execute("INSERT INTO runs VALUES (?, 'FINISHED', 'active', ?)", (f"run{n:029d}", n))
            con.execute("INSERT INTO tags VALUES (?, 'stage', ?)", (f"run{n:029d}", stage))


def _commit(root: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE,
           "GIT_AUTHOR_NAME": "fixture", "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
           "GIT_COMMITTER_NAME": "fixture", "GIT_COMMITTER_EMAIL": "fixture@example.invalid"}
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "fixture run"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True, env=env, capture_output=True)
