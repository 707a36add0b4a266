"""A tiny hand-made repository of design items, stages, tests and results for gate tests.

``MiniRepo(tmp_path)`` starts complete and consistent (every gate passes once reviewed);
tests change one thing and expect exactly the matching problem.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from pipeline.trace.gates import Problem, check
from pipeline.trace.graph import Trace, TracePaths, build_trace
from pipeline.trace.review import review
from tests import records
from tests.paths import PATHS

PLAN = yaml.safe_load((Path(__file__).resolve().parents[2] / "risk" / "plan.yaml").read_text())

NEED = {"id": "URS-001", "kind": "intended_use", "title": "Segment lesions",
        "text": "The device segments lesions.", "rationale": "Clinical purpose."}
REQ = {"id": "SRS-TST-001", "title": "Reader sorts slices", "kind": "safety",
       "text": "Slices are sorted along the normal.", "rationale": "Geometry.",
       "derives_from": ["URS-001"], "implements": ["RC-001"]}
CONTROL = {"id": "RC-001", "title": "Geometry-correct reading", "kind": "inherent_safety",
           "description": "Sort along the normal.", "effectiveness": "Masks overlay.",
           "effectiveness_evidence": ["SRS-TST-001"]}
RISK = {"id": "RISK-001", "title": "Wrong geometry", "hazard": "Flipped slices.",
        "sequence_of_events": "Reader sorts by name.", "hazardous_situation": "Wrong mask.",
        "harm": "Wrong treatment.", "severity": "critical", "probability": "probable",
        "controls": ["RC-001"], "residual_severity": "critical",
        "residual_probability": "improbable"}
CRITERION = {"id": "VAL-001", "title": "Dice", "requirements": ["SRS-TST-001"],
             "models": ["teacher"], "split": "test", "metric": "dice", "statistic": "point",
             "comparison": ">=", "threshold": 0.8}
TEST_FILE = '''import pytest


@pytest.mark.verifies("SRS-TST-001")
def test_sorts():
    pass
'''


OUT_CONTENT = b"what the read stage wrote\n"
OUT_MD5 = hashlib.md5(OUT_CONTENT).hexdigest()


def vnv_with(status: str, value: float | None, estimate: dict | None = None, **fields: Any) -> dict:
    """``metrics/vnv.json`` with VAL-001 judged on the teacher (``fields``: other top-level entries)."""
    reason = f"point {value} >= 0.8" + ("" if status == "PASS" else " not met")
    result = records.model_result(status, value, 0.8, reason, estimate)
    return records.vnv({"VAL-001": records.criterion("VAL-001", status, {"teacher": result},
                                                     requirements=("SRS-TST-001",))}, **fields)


class MiniRepo:
    """Editable design items and evidence; ``write()`` puts them on disk under ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.needs = [copy.deepcopy(NEED)]
        self.reqs = [copy.deepcopy(REQ)]
        self.controls = [copy.deepcopy(CONTROL)]
        self.risks = [copy.deepcopy(RISK)]
        self.criteria = [copy.deepcopy(CRITERION)]
        self.stages: dict[str, Any] = {"read": {
            "desc": "read", "cmd": "echo", "deps": ["src"], "outs": ["out/read"],
            "meta": {"requirements": ["SRS-TST-001"], "risks": ["RISK-001"]}}}
        self.lock: dict[str, Any] = {"read": {"cmd": "echo", "deps": [
            {"path": "src", "md5": "a1"}], "outs": [{"path": "out/read", "md5": OUT_MD5}]}}
        self.outputs = {"out/read": OUT_CONTENT}  # what the stages wrote (hashed in the lock)
        self.tests = {"test_a.py": TEST_FILE}
        self.junit: list[tuple[str, str, str]] | None = [("tests.test_a", "test_sorts", "passed")]
        self.policy: dict[str, Any] = {"required_roles": []}  # no approval needed unless a test asks
        self.vnv: dict[str, Any] | None = vnv_with("PASS", 0.9)
        self.junit_properties: dict[str, str] = {}  # session properties (e.g. source_commit)
        self.junit_seconds = 0.1  # each case's recorded duration

    def write(self) -> "MiniRepo":
        """Write every file (absent junit/vnv when set to ``None``)."""
        files = {"requirements/user_needs.yaml": self.needs,
                 "requirements/software/tst.yaml": self.reqs, "risk/plan.yaml": PLAN,
                 "risk/hazards.yaml": self.risks, "risk/controls.yaml": self.controls,
                 "verification/criteria.yaml": {"criteria": self.criteria},
                 "dvc.yaml": {"stages": self.stages},
                 "dvc.lock": {"schema": "2.0", "stages": self.lock},
                 "governance/policy.yaml": self.policy}
        for rel, data in files.items():
            _write(self.root / rel, yaml.safe_dump(data, sort_keys=False))
        if not (self.root / "params.yaml").exists():  # where the records are; a test may write its own
            _write(self.root / "params.yaml", yaml.safe_dump({"paths": PATHS.model_dump()}))
        for name, text in self.tests.items():
            _write(self.root / "tests" / name, text)
        for rel, content in self.outputs.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(content)
        junit = self.root / PATHS.junit
        junit.unlink(missing_ok=True)
        if self.junit is not None:
            _write(junit, _junit_xml(self.junit, self.junit_properties, self.junit_seconds))
        vnv = self.root / PATHS.vnv_metrics
        vnv.unlink(missing_ok=True)
        if self.vnv is not None:
            _write(vnv, json.dumps(self.vnv))
        return self

    def trace(self) -> Trace:
        """Write and build the trace graph."""
        self.write()
        return build_trace(TracePaths.of(self.root, PATHS))

    def review_all(self) -> "MiniRepo":
        """Record the current fingerprints of every link (the baseline)."""
        review(self.trace(), [], everything=True)
        return self

    def problems(self, as_of: str | None = None) -> list[Problem]:
        """Write, build and run every gate."""
        return check(self.trace(), as_of=as_of)

    def lines(self) -> list[str]:
        """The problem lines ``trace check`` would print."""
        return [p.line() for p in self.problems()]


def _junit_xml(cases: list[tuple[str, str, str]], properties: dict[str, str] | None = None,
               seconds: float = 0.1) -> str:
    body = []
    for classname, name, outcome in cases:
        inner = {"passed": "", "failed": '<failure message="boom"/>',
                 "error": '<error message="boom"/>', "skipped": '<skipped message="no"/>'}[outcome]
        body.append(f'<testcase classname="{classname}" name="{name}" time="{seconds}">{inner}</testcase>')
    props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in (properties or {}).items())
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
            + (f"<properties>{props}</properties>" if props else "")
            + "".join(body) + "</testsuite></testsuites>")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


MODEL_BYTES = b"released model bytes\n"
SOURCE_COMMIT = "5" * 40


def with_release(repo: MiniRepo) -> MiniRepo:
    """The mini repository as a finished release: a released model file that V&V verified (with n
    and the interval of its criterion, the locked split's identity), a release manifest, and a test
    report recording each case's duration and the commit it ran on. Written on ``write()``."""
    repo.vnv = vnv_with("PASS", 0.9, estimate=records.estimate(0.9, 0.85, 0.95, 12),
                        models={"teacher": records.verified_model("release/models/teacher.onnx",
                                                                  hashlib.sha256(MODEL_BYTES).hexdigest())},
                        test_split=records.locked_split(cases=12))
    repo.outputs["release/models/teacher.onnx"] = MODEL_BYTES
    repo.outputs["release/manifest.json"] = b'{"files": []}\n'
    repo.junit = [("tests.test_a", "test_sorts", "passed")]
    repo.junit_properties = {"source_commit": SOURCE_COMMIT}
    repo.junit_seconds = 1.25
    return repo
