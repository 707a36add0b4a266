"""The ``verify`` core: evaluate the released ONNX files on the locked test split.

What ships is what is tested: each model is opened with the export stage's
``OnnxModel.load`` (the file's SHA-256 is checked against its sidecar, and the ORT session is
built from exactly the checked bytes) and run through the same sliding-window path as
``predict`` (``pipeline.export.inference.predict_volume``). The PyTorch teacher is used only
for Grad-CAM and occlusion evidence, which need gradients; no reported metric comes from it.

A failed criterion is a result, not an error: it is recorded in ``vnv.json`` and makes the
release status ``not releasable``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.atomic import atomic_dir, write_json
from pipeline.errors import UserError
from pipeline.export import postprocess
from pipeline.export.inference import OnnxModel, predict_volume, to_mask
from pipeline.preprocess.cache import load_cases
from pipeline.provenance import file_sha256
from pipeline.verify import criteria, metrics, report
from pipeline.verify.params import VerifyParams
from pipeline.verify.plan import load_plan

FOREGROUND = 1
REQUIREMENTS = ["SRS-VNV-002", "SRS-VNV-003", "SRS-VNV-004", "SRS-VNV-005"]


@dataclass(frozen=True)
class VerifyPaths:
    """Where the stage reads and writes."""

    preprocessed: Path
    splits: Path
    models: dict[str, Path]  # "teacher" / "compressed" -> ONNX file
    teacher_checkpoint: Path | None  # torch teacher, for explainability only
    out_dir: Path  # per-case CSV, evidence PNGs and index
    metrics: Path  # vnv.json (DVC metrics)
    plan: Path | None = None  # default: params.plan
    extra: dict = field(default_factory=dict)


def run(params: VerifyParams, paths: VerifyPaths, progress=None) -> dict:
    """Evaluate every model, every criterion, write the evidence; return the ``vnv.json`` content.

    Args:
        params: the validated ``verify`` section.
        paths: inputs and outputs.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    plan = load_plan(paths.plan or Path(params.plan))
    _require(Path(paths.splits), "splits file (run the preprocess stage)")
    _require(Path(paths.preprocessed) / "index.json", "preprocessed cache (run the preprocess stage)")
    splits = json.loads(Path(paths.splits).read_text())
    cases = load_cases(Path(paths.preprocessed), splits, ["test"], allow_locked=True)["test"]
    if not cases:
        raise UserError(f"the locked test split in {paths.splits} is empty: nothing to verify")
    models = {name: OnnxModel.load(Path(path), threads=params.threads)
              for name, path in sorted(paths.models.items())}
    rows: dict[str, list[dict]] = {}
    masks: dict[str, dict[str, np.ndarray]] = {}
    for name, model in models.items():
        rows[name], masks[name] = _evaluate_model(model, cases, params, progress)
    _add_paired(rows)
    other = _other_splits(plan, models, splits, paths, params, progress)
    evidence: list[dict] = []
    with atomic_dir(Path(paths.out_dir)) as tmp:
        if params.explain.enabled and paths.teacher_checkpoint is not None and "teacher" in rows:
            from pipeline.verify import explain_stage

            evidence = explain_stage.explain_cases(params.explain, paths.teacher_checkpoint, cases,
                                                   rows["teacher"], masks["teacher"], tmp,
                                                   params.threads, final_dir=Path(paths.out_dir),
                                                   expected_weights=models["teacher"].metadata.get(
                                                       "weights_sha256"))
        result = criteria.evaluate_plan(plan, rows, params.bootstrap_samples, params.seed, other)
        out = {
            "release_status": result.pop("release_status"), **result,
            "models": {n: {"path": str(paths.models[n]), "sha256": m.sha256,
                           "model_version": m.metadata.get("model_version", "")}
                       for n, m in models.items()},
            "test_split": {"cases": len(cases), "splits_sha256": file_sha256(Path(paths.splits)),
                           "locked": "test" in splits.get("locked", []),
                           "patients": len({c["patient_id"] for c in cases}),
                           "case_sha256": {c["case_id"]: _sha(splits, c["case_id"]) for c in cases}},
            "other_splits": {name: {"cases": len(next(iter(per_model.values()), [])),
                                    "models": sorted(per_model)} for name, per_model in other.items()},
            "summary": report.summaries(rows, params.bootstrap_samples, params.seed),
            "subgroups": report.subgroup_summaries(rows, plan.age_bands_years,
                                                   params.bootstrap_samples, params.seed),
            "worst_cases": report.worst_cases(rows, params.worst_cases),
            "evidence": evidence,
            "settings": {"nsd_tolerance_mm": params.nsd_tolerance_mm,
                         "bootstrap_samples": params.bootstrap_samples, "seed": params.seed,
                         "ci_level": criteria.LEVEL, "plan": str(paths.plan or params.plan),
                         "release_policy": plan.release_policy.model_dump()},
        }
        report.write_case_table(tmp / "per_case.csv", rows)
    write_json(Path(paths.metrics), out)
    return out


def _other_splits(plan, models: dict, splits: dict, paths: VerifyPaths, params: VerifyParams,
                  progress) -> dict[str, dict[str, list[dict]]]:
    """Per-case rows on the non-test splits that criteria name (the models they name only)."""
    wanted: dict[str, set[str]] = {}
    for criterion in plan.criteria:
        if criterion.split != "test":
            wanted.setdefault(criterion.split, set()).update(criterion.models)
    out: dict[str, dict[str, list[dict]]] = {}
    for split, names in sorted(wanted.items()):
        cases = load_cases(Path(paths.preprocessed), splits, [split])[split]
        out[split] = {name: _evaluate_model(models[name], cases, params, progress)[0]
                      for name in sorted(names) if name in models}
    return out


def _evaluate_model(model: OnnxModel, cases: list[dict], params: VerifyParams,
                    progress) -> tuple[list[dict], dict[str, np.ndarray]]:
    rows, masks = [], {}
    for case in (progress(cases) if progress else cases):
        logits = predict_volume(model, case["image"], model.spec)
        pred = postprocess.apply(to_mask(logits), model.spec) == FOREGROUND
        truth = np.asarray(case["label"])[0] == FOREGROUND
        values = metrics.all_metrics(pred, truth, case["spacing"], params.nsd_tolerance_mm)
        masks[case["case_id"]] = pred
        rows.append({**_attributes(case), **values})
    return rows, masks


def _add_paired(rows: dict[str, list[dict]]) -> None:
    """Compressed rows get ``dice_drop_vs_teacher`` = teacher Dice - compressed Dice, per case."""
    if "teacher" not in rows or "compressed" not in rows:
        return
    teacher = {r["case_id"]: r["dice"] for r in rows["teacher"]}
    for row in rows["compressed"]:
        row["dice_drop_vs_teacher"] = teacher[row["case_id"]] - row["dice"]


def _attributes(case: dict) -> dict:
    keys = ("case_id", "patient_id", "site", "manufacturer", "sex", "age")
    return {k: case.get(k) for k in keys}


def _require(path: Path, what: str) -> None:
    if not path.exists():
        raise UserError(f"{what}: {path} not found")


def _sha(splits: dict, case_id: str) -> str:
    return next(c["sha256"] for c in splits["splits"]["test"] if c["case_id"] == case_id)
