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
    AcceptanceCriterion, Hazard, RiskControl, SoftwareRequirement, Subgroup, UserNeed,
)
from pipeline.core.provenance import source_state
from pipeline.design.risk_plan import RiskPlan, ScaleLevel
from pipeline.techfile.documents import referenced_requirements
from pipeline.techfile.params import TechfileParams
from pipeline.techfile.soup import load_purposes
from pipeline.trace import reviews as rv
from pipeline.trace.graph import TracePaths, build_trace

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


SYNTHETIC_SOURCE = {"format": "dicom", "path": "data/deid", "segments": []}
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
    trace = build_trace(TracePaths(root=root))
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
        items.append(SoftwareRequirement(id=rid, title=f"Requirement {rid}", type="functional",
                                         text=f"The software does {rid}.", rationale="fixture",
                                         derives_from=[f"URS-00{n % 3 + 1}"], implements=implements))
    _dump(root / "requirements/software/all.yaml", _items(items))
    levels = [ScaleLevel(level=i, name=f"level{i}", definition=f"definition {i}") for i in (1, 2, 3)]
    plan = RiskPlan(scope="fixture scope", severity=levels, probability=levels,
                    regions={"acceptable": "ok", "alarp": "reduce", "unacceptable": "no"},
                    matrix=[["acceptable", "acceptable", "alarp"], ["acceptable", "alarp", "unacceptable"],
                            ["alarp", "unacceptable", "unacceptable"]],
                    overall_residual_risk_policy="acceptable when no residual risk is unacceptable")
    _dump(root / "risk/plan.yaml", plan.model_dump(mode="json"))
    risks = [Hazard(id=f"RISK-00{n}", title=f"Hazard {n} with a realistic title", hazard=HAZARD_TEXT,
                    sequence_of_events=HAZARD_TEXT, hazardous_situation=HAZARD_TEXT, harm=HAZARD_TEXT,
                    severity=3, probability=n + 1, controls=[f"RC-00{n}"],
                    residual_severity=3 - n + 1 if n == 2 else 1, residual_probability=1,
                    probability_rationale=f"Probability rationale {n}: " + HAZARD_TEXT,
                    reduction_rationale=f"Reduction rationale {n}: " + HAZARD_TEXT) for n in (1, 2)]
    _dump(root / "risk/hazards.yaml", _items(risks))
    controls = [RiskControl(id="RC-001", title="Control one", type="protective_measure",
                            description="measure one", effectiveness="criterion passes",
                            effectiveness_evidence=["VAL-001"]),
                RiskControl(id="RC-002", title="Warn the user", type="information_for_safety",
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
    estimate = {"mean": value, "ci_lower": value - 0.05, "ci_upper": value + 0.03, "n": 4,
                "n_clusters": 4, "level": 0.95, "samples": 200, "seed": 7}
    v1 = {"value": value, "status": "FAIL" if failed else "PASS", "reason": "point vs 0.8",
          "estimate": estimate}
    sub = {"site-a": {"value": 0.88, "status": "PASS", "reason": "ok", "n_cases": 2,
                      "estimate": estimate},
           "site-b": {"value": None, "status": "INCONCLUSIVE", "n_cases": 1,
                      "reason": "1 case(s) with a value, below the minimum of 2", "estimate": estimate}}
    vnv = {"release_status": "not releasable" if failed else "releasable",
           "criteria": {"VAL-001": {"status": v1["status"], "models": {"teacher": v1, "compressed": v1}},
                        "VAL-002": {"status": "PASS", "models": {"compressed": {
                            "value": 0.86, "status": "PASS", "reason": "2 subgroups", "subgroups": sub}}}},
           "models": {"teacher": {"path": "release/models/teacher.onnx",
                                  "sha256": hashlib.sha256(ONNX_BYTES).hexdigest()}},
           "summary": {"teacher": {"dice": {"mean": 0.91, "ci_lower": 0.86, "ci_upper": 0.94, "n": 4}},
                       "compressed": {"dice": {"mean": 0.897, "ci_lower": 0.851, "ci_upper": 0.932, "n": 4}}},
           "subgroups": {"teacher": {"site": {"site-a": {
               "n_cases": 3, "dice": {"mean": 0.923, "ci_lower": 0.871, "ci_upper": 0.951, "n": 3},
               "sensitivity": {"mean": 0.944, "ci_lower": 0.902, "ci_upper": 0.977, "n": 3}}}}},
           "external_split": {"cases": 1, "evaluations": 1, "max_evaluations": 3, "content_sha256": "e" * 64,
                              "sites": ["Dunmore Community Hospital"], "history": [
               {"split": "external", "split_sha256": "e" * 64, "git_commit": "2" * 40,
                "models": {"teacher": hashlib.sha256(ONNX_BYTES).hexdigest()}, "release_status": "releasable",
                "failed": [], "source": "verify stage"}]},
           "test_split": {"cases": 1, "evaluations": 2, "max_evaluations": 3, "content_sha256": "c" * 64, "history": [
               {"split": "test", "split_sha256": "c" * 64, "git_commit": "1" * 40, "models": {"teacher": None},
                "release_status": "not releasable", "failed": ["VAL-001"], "source": "recorded by hand"},
               {"split": "test", "split_sha256": "c" * 64, "git_commit": "2" * 40,
                "models": {"teacher": hashlib.sha256(ONNX_BYTES).hexdigest()},
                "release_status": "not releasable" if failed else "releasable",
                "failed": ["VAL-001"] if failed else [], "source": "verify stage"}]},
           "evidence": [{"path": "metrics/evidence/case-best.png", "requirements": ["SRS-VNV-005"],
                         "caption": "Grad-CAM, best case, Dice 0.93"}]}
    (m / "evidence").mkdir(exist_ok=True)
    Image.new("RGB", (8, 6), (200, 30, 30)).save(m / "evidence/case-best.png")
    files = {"vnv.json": vnv,
             "train.json": {"best_val_dice": 0.9, "best_epoch": 2, "epochs": 2, "weights_sha256": "ab" * 32,
                            "seed": 3, "threads": 2, "train_cases": 2, "val_cases": 1},
             "compress.json": compress_metrics(shipped=not failed),
             "export.json": {"opset": 17, "max_abs_diff": 1.2e-6},
             "deid.json": {"files_in": 10, "written": 9, "quarantined": 1,
                           "leak_check": {"leaks": 0, "outputs_checked": 9},
                           "profile": {"options": {"retain_patient_characteristics": True, "retain_uids": False}}},
             "cohort.json": {"patients": 4, "studies": 5},
             "fingerprint.json": {"all": _fp(["SIEMENS", "GE"]),
                                  "per_site": {"site-a": _fp(["SIEMENS"]), "site-b": _fp(["GE"])}}}
    for name, data in files.items():
        (m / name).write_text(json.dumps(data, indent=2))
    (m / "train_curve.csv").write_text("epoch,train_loss,val_dice,lr,seconds\n1,0.9,0.5,0.003,1.0\n"
                                       "2,0.4,0.9,0.001,2.0\n")
    cases = {"train": ["P1", "P2"], "val": ["P3"], "test": ["P4"]}
    splits = {"seed": 5, "stratify_by": "site", "locked": ["test"],
              "splits": {s: [{"case_id": f"{p}-c", "patient_id": p, "sha256": "0" * 64, "stratum": "a"}
                             for p in ps] for s, ps in cases.items()},
              "counts": {s: {"cases": len(ps), "patients": len(ps)} for s, ps in cases.items()}}
    (root / "data").mkdir(exist_ok=True)
    (root / "data/splits.json").write_text(json.dumps(splits))
    (root / "release/models").mkdir(parents=True, exist_ok=True)
    (root / "release/models/teacher.onnx").write_bytes(ONNX_BYTES)
    (root / "release/trace").mkdir(parents=True, exist_ok=True)
    for n in range(TRACE_PAGES):
        (root / f"release/trace/page{n:02d}.html").write_text(f"<p>trace page {n}</p>")


def compress_metrics(shipped: bool) -> dict:
    """``metrics/compress.json`` as the compress stage writes it: a chosen candidate, or none."""
    drop = {"mean": 0.004, "ci_lower": -0.002, "ci_upper": 0.011, "n": 3, "patients": 3, "level": 0.95}
    model = {"candidate": "half", "method": "distill", "precision": "fp32", "checkpoint": "half.pt",
             "runtime": "openvino-cpu", "runtime_version": "2026.4.1", "keep_largest_component": False,
             "foreground_threshold": 0.3, "val_dice": 0.88, "volume_ms": 60.0, "bytes": 500, "dice_drop": drop,
             "speedup": 4.5, "size_reduction": 9.1}
    teacher = {"candidate": "teacher", "method": "none", "precision": "fp32", "checkpoint": None,
               "runtime": "openvino-cpu", "runtime_version": "2026.4.1", "keep_largest_component": True,
               "foreground_threshold": 0.25, "val_dice": 0.884, "volume_ms": 270.0, "bytes": 4550}
    rows = [{"name": "teacher", "precision": "fp32", "runtime": "openvino-cpu", "bytes": 4550, "volume_ms": 270.0,
             "torch_eager_volume_ms": 280.0, "val_dice": 0.884, "verdict": "reference"},
            {"name": "half", "precision": "fp32", "runtime": "openvino-cpu", "bytes": 500, "volume_ms": 60.0,
             "torch_eager_volume_ms": 70.0, "val_dice": 0.88, "dice_drop": drop, "speedup": 4.5,
             "size_reduction": 9.1, "verdict": "chosen" if shipped else "paired val Dice drop +0.0400 > 0.01"}]
    return {"compressed": shipped, "chosen": "half@openvino-cpu" if shipped else None,
            "reason": "half is the fastest candidate meeting every target" if shipped
            else "no candidate met every target: nothing is released as a compressed model",
            "runtime": "openvino-cpu", "shipped": model if shipped else None, "teacher": teacher, "candidates": rows,
            "targets": {"max_dice_drop": 0.01, "min_speedup": 3.0, "min_size_reduction": 4.0, "speed_tie": 0.1},
            "training": {"half": {"method": "distill", "epochs": 60, "best_epoch": 52, "best_val_dice": 0.879,
                                  "kd_weight": 0.5, "seconds": 130.0}}}


def _fp(manufacturers: list[str]) -> dict:
    return {"cases": 3, "patients": 2, "shape_min": [30, 30, 10], "shape_median": [32.0, 32.0, 12.0],
            "shape_max": [34, 34, 14], "spacing_min": [0.8, 0.8, 2.0], "spacing_median": [1.0, 1.0, 2.5],
            "spacing_max": [1.2, 1.2, 3.0], "label_ml_min": 0.1, "label_ml_median": 0.5,
            "label_ml_max": 1.5, "empty_labels": 0, "manufacturers": manufacturers,
            "foreground_intensity": {"mean": 90.0, "std": 40.0, "p00_5": -20.0, "p50": 95.0 + len(manufacturers),
                                     "p99_5": 180.0}}


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
