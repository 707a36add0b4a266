"""The ``verify`` core: evaluate the released ONNX files on the locked test and external splits.

What ships is what is tested: each model is opened with ``OnnxModel.load`` (the file's SHA-256
is checked against its sidecar, and the engine is built from exactly the checked bytes, on the
runtime the file records) and run through the same sliding-window path as ``predict``
(``pipeline.runtime.sliding.predict_volume``). The test cases are run model after model for
each case, and each run is timed: the compressed model's per-case speed-up over the teacher
(``speedup_vs_teacher``) and its file-size reduction (``size_reduction_vs_teacher``) are
metrics of the V&V plan like any other. A compressed model that was not released (the
compress stage found none meeting its targets) fails every criterion that names it. The PyTorch teacher is used only
for Grad-CAM and occlusion evidence, which need gradients; no reported metric comes from it.

A failed criterion is a result, not an error: it is recorded in ``vnv.json`` and makes the
release status ``not releasable``.

2D images (an image-folder cache) and 3D volumes go through the same path. A criterion the
data cannot answer (a subgroup attribute no test case records, a volume on 2D images) is
NOT APPLICABLE with its reason (``pipeline.verify.criteria``): neither a pass nor a failure.

Robustness: the perturbations the plan's criteria name (noise, intensity change, blur, and an
adversarial perturbation computed on the torch teacher) are applied to the test cases and every
model those criteria name runs the perturbed copies through the same ONNX path
(``pipeline.verify.robustness_stage``). Privacy: the loss-threshold membership-inference attack
compares the released models' losses on the training split with those on the test split
(``pipeline.verify.membership_stage``); its AUC is judged like any other estimate.

The external split (patients of sites and scanners no development case comes from, see
``pipeline.preprocess.splits``) is evaluated like the test split when the splits file has one;
criteria name it with ``split: external``. Each locked split's evaluations are counted apart.
"""

from __future__ import annotations

import time
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.core.atomic import atomic_dir
from pipeline.core.records import write_record
from pipeline.core.errors import UserError
from pipeline.runtime import postprocess
from pipeline.runtime.model import OnnxModel
from pipeline.runtime.sliding import predict_volume
from pipeline.data.cache import LoadedCase, load_cases
from pipeline.preprocess.records import SplitsRecord, load_splits
from pipeline.core.provenance import file_sha256, git_commit
from pipeline.core.timing import interleaved_medians
from pipeline.verify import (criteria, evaluations, membership_stage, metrics, perturb, report,
                             robustness_stage, subgroups)
from pipeline.verify.params import VerifyParams
from pipeline.verify.plan import load_plan
from pipeline.verify.record import VnvRecord

FOREGROUND = 1
OPTIONAL = ("compressed",)  # may be absent from the release: its criteria then FAIL
LOCKED_SPLITS = ("test", "external")  # read only here; every evaluation is logged


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
    evaluation_log: Path | None = None  # verification/test_split_log.json: every look at the test split


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
    splits = load_splits(Path(paths.splits))
    locked = load_cases(Path(paths.preprocessed), splits, list(LOCKED_SPLITS), allow_locked=True)
    cases, external = locked["test"], locked["external"]
    if not cases:
        raise UserError(f"the locked test split in {paths.splits} is empty: nothing to verify")
    absent = {name: f"{path} does not exist; see the compression record for why"
              for name, path in paths.models.items() if name in OPTIONAL and not Path(path).exists()}
    models = {name: OnnxModel.load(Path(path), threads=params.threads)
              for name, path in sorted(paths.models.items()) if name not in absent}
    classes = _classes(models)
    criteria.check_classes(plan, classes, str(paths.plan or params.plan))
    rows, masks = _evaluate_test(models, cases, params, progress)
    _add_paired(rows, models)
    perturbations = robustness_stage.wanted(plan)
    robustness_stage.evaluate(models, cases, rows, perturbations, params.robustness, params.seed,
                              _attack(paths, params, models) if "adversarial" in perturbations else None, progress)
    privacy, estimates, member_rows = membership_stage.assess(
        models, membership_stage.wanted(plan), _members(plan, paths, splits), cases, rows,
        params.membership.min_cases, params.bootstrap_samples, params.seed)
    other = _other_splits(plan, models, splits, paths, params, progress)
    external_rows: dict[str, list[dict]] = {}
    if external:
        external_rows, _ = _evaluate_test(models, external, params, progress, repeats=1)
        _add_paired(external_rows, models)
        other["external"] = external_rows
    evidence: list[dict] = []
    with atomic_dir(Path(paths.out_dir)) as tmp:
        if params.explain.enabled and paths.teacher_checkpoint is not None and "teacher" in rows:
            from pipeline.verify import explain_stage

            evidence = explain_stage.explain_cases(params.explain, paths.teacher_checkpoint, cases,
                                                   rows["teacher"], masks["teacher"], tmp,
                                                   params.threads, final_dir=Path(paths.out_dir),
                                                   expected_weights=models["teacher"].metadata.get(
                                                       "weights_sha256"),
                                                   class_name=classes[0] if len(classes) > 1 else None)
        undefined = metrics.undefined_metrics(len(cases[0].record.spacing))  # 2D: no volumes
        result = criteria.evaluate_plan(plan, rows, params.bootstrap_samples, params.seed, other, absent, undefined,
                                        classes, estimates)
        looks = {split: _record_evaluation(paths, split, split_cases, models, result, plan, split_rows)
                 for split, split_cases, split_rows in (("test", cases, rows), ("external", external, external_rows))
                 if split_cases}
        out = {
            "release_status": result.pop("release_status"), **result,
            "models": {n: {"path": str(paths.models[n]), "sha256": m.sha256,
                           "model_version": m.metadata.get("model_version", ""), "runtime": m.runtime,
                           "runtime_version": m.engine.version, "bytes": Path(paths.models[n]).stat().st_size}
                       for n, m in models.items()},
            "absent_models": absent,
            "test_split": _split_record("test", cases, looks["test"], splits, paths, plan),
            "external_split": (_split_record("external", external, looks["external"], splits, paths, plan)
                               if external else None),
            "other_splits": {name: {"cases": len(next(iter(per_model.values()), [])),
                                    "models": sorted(per_model)} for name, per_model in other.items()},
            "classes": classes,
            "summary": report.summaries(rows, params.bootstrap_samples, params.seed),
            "summary_per_class": report.class_summaries(rows, classes, params.bootstrap_samples, params.seed),
            "external_summary": report.summaries(external_rows, params.bootstrap_samples, params.seed),
            "subgroups": report.subgroup_summaries(rows, plan.age_bands_years,
                                                   params.bootstrap_samples, params.seed),
            "worst_cases": report.worst_cases(rows, params.worst_cases),
            "evidence": evidence,
            "robustness": robustness_stage.summary(rows, perturbations, params.robustness,
                                                   params.bootstrap_samples, params.seed, _hu_per_unit(models)),
            "membership": privacy,
            "settings": {"nsd_tolerance_mm": params.nsd_tolerance_mm,
                         "bootstrap_samples": params.bootstrap_samples, "seed": params.seed,
                         "ci_level": criteria.LEVEL, "plan": str(paths.plan or params.plan),
                         "release_policy": plan.release_policy.model_dump(),
                         "robustness": params.robustness.model_dump(), "membership": params.membership.model_dump()},
        }
        report.write_case_table(tmp / "per_case.csv", rows, classes)
        if member_rows:
            membership_stage.write_table(tmp / "membership.csv", member_rows)
        if external_rows:
            report.write_case_table(tmp / "per_case_external.csv", external_rows, classes)
    write_record(Path(paths.metrics), out, VnvRecord, "V&V results")
    return out


def _record_evaluation(paths: VerifyPaths, split: str, cases: list[LoadedCase], models: dict,
                       result: dict, plan, rows: dict[str, list[dict]]) -> tuple[str, list]:
    """Append this evaluation of a locked split to the log; its identity and every evaluation so far."""
    identity = evaluations.split_identity(cases)
    failed = [c for c in result["failed"] if result["criteria"][c]["split"] == split]
    versions = {n: evaluations.model_version(m.path) for n, m in models.items()}
    judged = [c.model_dump(mode="json", exclude={"title", "rationale"}) for c in plan.criteria if c.split == split]
    # (a criterion without a class dumps without the key: binary look keys are what they were)
    entry = evaluations.Evaluation(split=split, split_sha256=identity, git_commit=git_commit(Path(".")),
                                   models={n: m.sha256 for n, m in models.items()},
                                   release_status=result["release_status"], failed=failed,
                                   model_versions=versions, look=evaluations.look_key(versions, judged, rows))
    if paths.evaluation_log is None:
        return identity, [entry]
    return identity, evaluations.append(paths.evaluation_log, entry).of_split(identity, split)


def _split_record(split: str, cases: list[LoadedCase], look: tuple[str, list], splits: SplitsRecord,
                  paths: VerifyPaths, plan) -> dict:
    """What ``vnv.json`` says about one locked split: its identity and every evaluation of it."""
    identity, history = look
    return {"cases": len(cases), "splits_sha256": file_sha256(Path(paths.splits)),
            "content_sha256": identity,
            "locked": split in splits.locked,
            "evaluations": len(history),  # runs, this one included, every one listed in the history
            "looks": evaluations.looks(history),  # what the policy limits: a run that showed the same is no new look
            "max_evaluations": plan.test_split_policy.max_evaluations,
            "history": [e.model_dump(mode="json") for e in history],
            "patients": len({c.record.patient_id for c in cases}),
            "sites": sorted({str(c.record.site) for c in cases
                             if subgroups.recorded(_attributes(c), "site")}),
            "case_sha256": {c.case_id: splits.sha256(split, c.case_id) for c in cases}}


def _other_splits(plan, models: dict, splits: SplitsRecord, paths: VerifyPaths, params: VerifyParams,
                  progress) -> dict[str, dict[str, list[dict]]]:
    """Per-case rows on the non-test splits that criteria name (the models they name only)."""
    wanted: dict[str, set[str]] = {}
    for criterion in plan.criteria:
        if criterion.split not in LOCKED_SPLITS:
            wanted.setdefault(criterion.split, set()).update(criterion.models)
    out: dict[str, dict[str, list[dict]]] = {}
    for split, names in sorted(wanted.items()):
        cases = load_cases(Path(paths.preprocessed), splits, [split])[split]
        out[split] = {name: _evaluate_model(models[name], cases, params, progress)[0]
                      for name in sorted(names) if name in models}
    return out


def _evaluate_model(model: OnnxModel, cases: list[LoadedCase], params: VerifyParams,
                    progress) -> tuple[list[dict], dict[str, np.ndarray]]:
    rows, masks = _evaluate_test({"model": model}, cases, params, progress, repeats=1)
    return rows["model"], masks["model"]


def _evaluate_test(models: dict[str, OnnxModel], cases: list[LoadedCase], params: VerifyParams,
                   progress, repeats: int | None = None
                   ) -> tuple[dict[str, list[dict]], dict[str, dict[str, np.ndarray]]]:
    """Every model on every case; per case the models' sliding-window times are the medians of
    ``repeats`` (default ``timing_repeats``) rounds in which they run in turn (one run each gave
    single-shot outliers: 2 of 16 cases of the first look at the 20261128 split timed the compressed
    model 1.6-2.4x slower than cases of the same size); the last timed round's logits give the
    metrics (the runtimes are deterministic, so a further run would compute the same logits again).
    The splits whose timings no criterion judges (external, validation; ``repeats=1``) run each model
    once, timed once: ``interleaved_medians`` would run a round again while other processes load
    the machine (up to three rounds for one), which buys nothing where no criterion reads the time
    (beside another agent's training on the 2-core machine: 3 of 3 rounds contended for every
    external and validation case)."""
    rows: dict[str, list[dict]] = {name: [] for name in models}
    masks: dict[str, dict[str, np.ndarray]] = {name: {} for name in models}
    for model in models.values():  # first calls allocate; keep them out of the timings
        predict_volume(model, np.zeros((model.spec.in_channels, *model.spec.patch_size), np.float32), model.spec)
    for case in (progress(cases) if progress else cases):
        truth_map = np.asarray(case.label)[0]
        truth = truth_map == FOREGROUND
        last: dict[str, np.ndarray] = {}

        def run_model(name: str, model: OnnxModel, image=case.image) -> None:
            last[name] = predict_volume(model, image, model.spec)

        calls = {name: partial(run_model, name, model) for name, model in models.items()}
        seconds = (interleaved_medians(calls, params.timing_repeats if repeats is None else repeats, warmup=0)
                   if repeats is None or repeats > 1 else _timed_once(calls))
        for name, model in models.items():
            logits = last[name]
            pred_map = postprocess.decide(logits, model.spec)
            pred = pred_map == FOREGROUND  # binary: the mask; more classes: the first class (explanations)
            if len(model.spec.labels) == 2:
                values = metrics.all_metrics(pred, truth, case.record.spacing, params.nsd_tolerance_mm)
            else:  # per class, and their mean under the plain keys
                values = metrics.class_metrics(pred_map, truth_map, model.spec.labels[1:], case.record.spacing,
                                               params.nsd_tolerance_mm)
            masks[name][case.case_id] = pred
            rows[name].append({**_attributes(case), **values, "inference_ms": round(1000 * seconds[name], 3)})
    return rows, masks


def _timed_once(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Seconds of one call of each, in turn (no warm-up, no contention retries)."""
    seconds = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        seconds[name] = time.perf_counter() - start
    return seconds


def _add_paired(rows: dict[str, list[dict]], models: dict[str, OnnxModel]) -> None:
    """Compressed rows get, per case, ``dice_drop_vs_teacher`` (teacher Dice - compressed Dice),
    ``speedup_vs_teacher`` (teacher time / compressed time, same case, same runtime) and
    ``size_reduction_vs_teacher`` (teacher file bytes / compressed file bytes)."""
    if "teacher" not in rows or "compressed" not in rows:
        return
    teacher = {r["case_id"]: r for r in rows["teacher"]}
    size = models["teacher"].path.stat().st_size / models["compressed"].path.stat().st_size
    for row in rows["compressed"]:
        reference = teacher[row["case_id"]]
        row["dice_drop_vs_teacher"] = reference["dice"] - row["dice"]
        row["speedup_vs_teacher"] = reference["inference_ms"] / row["inference_ms"]
        row["size_reduction_vs_teacher"] = size


def _attack(paths: VerifyPaths, params: VerifyParams, models: dict[str, OnnxModel]):
    """The adversarial attack on the torch teacher that the teacher ONNX file was exported from."""
    if paths.teacher_checkpoint is None or "teacher" not in models:
        raise UserError("the V&V plan names the adversarial perturbation, which is computed on the torch "
                        "teacher: give its checkpoint (paths.teacher) and the teacher ONNX file")
    teacher = models["teacher"]
    return robustness_stage.teacher_attack(Path(paths.teacher_checkpoint), teacher.metadata.get("weights_sha256"),
                                           list(teacher.spec.patch_size), params.robustness,
                                           perturb.bounds_of(teacher.spec.normalisation), params.threads)


def _members(plan, paths: VerifyPaths, splits: SplitsRecord) -> list[LoadedCase]:
    """The training split's cases when a criterion asks for membership inference (none otherwise)."""
    if not membership_stage.wanted(plan):
        return []
    return load_cases(Path(paths.preprocessed), splits, ["train"])["train"]


def _hu_per_unit(models: dict[str, OnnxModel]) -> float | None:
    """HU per normalised intensity unit of a CT window (to state perturbations in HU), else None."""
    norm = next(iter(models.values())).spec.normalisation if models else None
    return float(norm.high - norm.low) if getattr(norm, "kind", None) == "ct_window" else None


def _classes(models: dict[str, OnnxModel]) -> list[str]:
    """The foreground class names of the released files' label maps (all files must agree)."""
    maps = {name: list(model.spec.labels[1:]) for name, model in models.items()}
    distinct = {tuple(v) for v in maps.values()}
    if len(distinct) > 1:
        raise UserError(f"the released files name different classes: {maps}; rerun compress and export")
    return list(next(iter(distinct))) if distinct else []


def _attributes(case: LoadedCase) -> dict:
    """The attributes a per-case row starts with (those ``subgroups`` cuts by), from the case's record."""
    record = case.record
    row = {"case_id": record.case_id, "patient_id": record.patient_id, "site": record.site,
           "manufacturer": record.manufacturer, "sex": record.sex, "age": record.age}
    if record.unrecorded:  # attributes the source format does not carry (image folders, MSD)
        row["unrecorded"] = list(record.unrecorded)
    return row


def _require(path: Path, what: str) -> None:
    if not path.exists():
        raise UserError(f"{what}: {path} not found")
