"""Complete stage records for tests that need one without running the stage that writes it.

Each builder returns the dict a stage would write, checked against the stage's record model
(``pipeline.<stage>.record``), so a fixture can never drift from what the stages write: a field
the model gains or renames fails here, naming it, instead of in the code under test.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pipeline.cohort.record import CohortSummary
from pipeline.compress.record import CompressionRecord, CompressMetrics
from pipeline.core.records import check_record
from pipeline.deid.record import DeidReport
from pipeline.export.record import ExportMetrics
from pipeline.governance.manifest import Manifest
from pipeline.preprocess.records import CacheIndex, Fingerprint, SplitsRecord
from pipeline.train.record import TrainMetrics
from pipeline.verify.record import VnvRecord

SPLIT_NAMES = ("train", "val", "test", "external")
NORMALISATION = {"kind": "ct_window", "low": -150.0, "high": 250.0}


def indexed_case(case_id: str, patient_id: str, sha256: str, shape: list[int], spacing: list[float],
                 site: str = "unknown", manufacturer: str = "unknown", sex: str = "unknown",
                 age: int | None = None, foreground_voxels: int = 0) -> dict:
    """One case of the cache's ``index.json`` (axis-aligned, as read = as cached)."""
    dims = len(shape)
    affine = [[float(spacing[r]) if r == c else 0.0 for c in range(dims)] + [0.0] for r in range(dims)]
    return {"case_id": case_id, "patient_id": patient_id, "site": site, "manufacturer": manufacturer, "sex": sex,
            "age": age, "sha256": sha256, "shape": list(shape), "spacing": [float(v) for v in spacing],
            "affine": affine + [[0.0] * dims + [1.0]], "original_shape": list(shape),
            "original_spacing": [float(v) for v in spacing], "foreground_voxels": foreground_voxels}


def cache_index(cases: list[dict], spacing: list[float], classes: list[str] | None = None) -> dict:
    """The cache's ``index.json`` for ``indexed_case`` entries (one class, ``lesion``, unless named)."""
    return _checked({"spatial_dims": len(spacing), "classes": list(classes or ["lesion"]), "target_spacing_mm": [float(v) for v in spacing],
                     "orientation": "RAS", "normalisation": dict(NORMALISATION),
                     "cases": {c["case_id"]: c for c in cases}, "bad_cases": []}, CacheIndex)


def split_case(case_id: str, patient_id: str, sha256: str, stratum: str = "all") -> dict:
    """One case of a split in ``splits.json``."""
    return {"case_id": case_id, "patient_id": patient_id, "sha256": sha256, "stratum": stratum}


def splits(assigned: dict[str, list[dict]], locked: tuple[str, ...] = ("test", "external"), seed: int = 0,
           stratify_by: str = "site", external_sites: tuple[str, ...] = ()) -> dict:
    """``splits.json`` with the ``split_case`` entries of each named split (the others empty)."""
    record = {name: list(assigned.get(name, [])) for name in SPLIT_NAMES}
    return _checked({"seed": seed, "stratify_by": stratify_by, "val_fraction": 0.25, "test_fraction": 0.25,
                     "external_sites": list(external_sites), "locked": list(locked), "splits": record,
                     "counts": {name: {"cases": len(cases), "patients": len({c["patient_id"] for c in cases})}
                                for name, cases in record.items()}}, SplitsRecord)


def fingerprint_summary(cases: int, patients: int, shape_min: list[int], shape_max: list[int],
                        spacing_min: list[float], spacing_max: list[float], manufacturers: list[str],
                        p50: float = 95.0) -> dict:
    """One summary (``all`` or a site) of the data-set fingerprint."""
    middle = [float(a + b) / 2 for a, b in zip(shape_min, shape_max)]
    return {"cases": cases, "patients": patients, "shape_min": list(shape_min), "shape_median": middle,
            "shape_max": list(shape_max), "spacing_min": [float(v) for v in spacing_min],
            "spacing_median": [float(a + b) / 2 for a, b in zip(spacing_min, spacing_max)],
            "spacing_max": [float(v) for v in spacing_max], "label_ml_min": 0.1, "label_ml_median": 0.5,
            "label_ml_max": 1.5, "empty_labels": 0, "manufacturers": list(manufacturers),
            "foreground_intensity": {"mean": 90.0, "std": 40.0, "p00_5": -20.0, "p50": p50, "p99_5": 180.0}}


def fingerprint(overall: dict, per_site: dict[str, dict]) -> dict:
    """``metrics/fingerprint.json`` from ``fingerprint_summary`` parts."""
    return _checked({"all": overall, "per_site": per_site, "bad_cases": 0}, Fingerprint)


def estimate(mean: float | None, ci_lower: float | None, ci_upper: float | None, n: int,
             n_clusters: int | None = None) -> dict:
    """A bootstrap estimate as ``vnv.json`` records it."""
    return {"mean": mean, "ci_lower": ci_lower, "ci_upper": ci_upper, "n": n,
            "n_clusters": n if n_clusters is None else n_clusters, "level": 0.95, "samples": 200, "seed": 7}


def metric_summary(dice: dict, n_cases: int | None = None, **metrics: dict) -> dict:
    """Every metric's estimate over a set of cases (``dice`` and any of ``metrics`` given, the
    others fixed); ``n_cases`` for a subgroup level."""
    n = dice["n"]
    out = {"dice": dice, "hd95_mm": estimate(2.0, 1.5, 2.5, n), "nsd": estimate(0.95, 0.9, 0.98, n),
           "sensitivity": estimate(0.9, 0.85, 0.94, n), "specificity": estimate(0.999, 0.998, 0.9995, n),
           "abs_volume_error_ml": estimate(0.2, 0.1, 0.3, n), **metrics}
    return out if n_cases is None else {"n_cases": n_cases, **out}


def model_result(status: str, value: float | None, threshold: float, reason: str = "",
                 estimate_: dict | None = None, comparison: str = ">=", statistic: str = "point") -> dict:
    """One model's result of a criterion judged on all its cases."""
    return {"status": status, "value": value, "threshold": threshold, "comparison": comparison,
            "statistic": statistic, "reason": reason or f"{statistic} {value} {comparison} {threshold}",
            "estimate": estimate_}


def subgroup_result(status: str, value: float | None, threshold: float, levels: dict[str, dict],
                    comparison: str = ">=", statistic: str = "ci95_lower") -> dict:
    """One model's result of a criterion judged per subgroup level (``levels``: ``model_result`` + n_cases)."""
    return {"status": status, "value": value, "threshold": threshold, "comparison": comparison,
            "statistic": statistic, "reason": f"{len(levels)} subgroup(s)", "subgroups": levels}


def criterion(cid: str, status: str, models: dict[str, dict], threshold: float = 0.8, metric: str = "dice",
              split: str = "test", subgroup: dict | None = None, requirements: tuple[str, ...] = ("SRS-VNV-002",),
              comparison: str = ">=", statistic: str = "point") -> dict:
    """One criterion's result: the plan's fields, the overall status and each model's result."""
    return {"id": cid, "title": f"Criterion {cid}", "requirements": list(requirements), "split": split,
            "metric": metric, "statistic": statistic, "comparison": comparison, "threshold": threshold,
            "subgroup": subgroup, "rationale": "", "status": status, "models": models}


def evaluation(split: str, identity: str, models: dict[str, str | None], release_status: str,
               failed: tuple[str, ...] = (), source: str = "verify stage", git_commit: str = "2" * 40) -> dict:
    """One entry of a locked split's history."""
    return {"split": split, "split_sha256": identity, "git_commit": git_commit, "models": dict(models),
            "release_status": release_status, "failed": list(failed), "source": source, "model_versions": None,
            "look": None}


def locked_split(evaluations: int = 1, max_evaluations: int = 3, looks: int | None = None, cases: int = 4,
                 identity: str = "c" * 64, split: str = "test", history: list[dict] | None = None,
                 sites: tuple[str, ...] = ()) -> dict:
    """A locked split as ``vnv.json`` records it; ``history`` defaults to ``evaluations`` runs
    that each were a look of their own."""
    history = history if history is not None else [evaluation(split, identity, {}, "releasable")] * evaluations
    return {"cases": cases, "splits_sha256": "5" * 64, "content_sha256": identity, "locked": True,
            "evaluations": len(history), "looks": len(history) if looks is None else looks,
            "max_evaluations": max_evaluations, "history": history, "patients": cases, "sites": list(sites),
            "case_sha256": {}}


def evidence_image(path: str, requirements: tuple[str, ...] = ("SRS-VNV-005",), caption: str = "",
                   sha256: str = "0" * 64, case_id: str = "c1", dice: float = 0.9) -> dict:
    """An explanation image of ``vnv.json``'s ``evidence``."""
    return {"path": path, "file": path.rsplit("/", 1)[-1], "sha256": sha256, "caption": caption, "case_id": case_id,
            "roles": ["best"], "requirements": list(requirements), "risks": [], "criteria_metric":
            "attribution_mass_in_region", "slices": [1], "explained_region": "prediction", "cam_method": "hirescam",
            "attribution_mass_in_region": 0.9, "occlusion_mass_in_region": 0.8, "gradcam_mass_in_region": 0.85,
            "dice": dice, "hd95_mm": 1.0, "target_layer": "model.1", "dilation_mm": 10.0,
            "teacher_weights_sha256": "f" * 64, "weights_checked_against_onnx": True}


def verified_model(path: str, sha256: str) -> dict:
    """A released file as V&V evaluated it."""
    return {"path": path, "sha256": sha256, "model_version": "1.0.0", "runtime": "onnxruntime-cpu",
            "runtime_version": "1.0", "bytes": 100}


def vnv(criteria: dict[str, dict], models: dict[str, dict] | None = None, test_split: dict | None = None,
        **fields: Any) -> dict:
    """``metrics/vnv.json``: the criteria (``criterion``), the release status they give, and the
    rest filled with consistent values; ``fields`` replace any top-level entry."""
    statuses = {cid: c["status"] for cid, c in criteria.items()}
    failed = sorted(c for c, s in statuses.items() if s == "FAIL")
    data = {"release_status": "not releasable" if failed or not criteria else "releasable",
            "criteria": criteria, "failed": failed,
            "inconclusive": sorted(c for c, s in statuses.items() if s == "INCONCLUSIVE"),
            "passed": sorted(c for c, s in statuses.items() if s == "PASS"),
            "models": models or {}, "absent_models": {},
            "test_split": test_split or locked_split(),
            "external_split": None, "other_splits": {}, "summary": {}, "external_summary": {}, "subgroups": {},
            "worst_cases": {}, "evidence": [],
            "settings": {"nsd_tolerance_mm": 2.5, "bootstrap_samples": 200, "seed": 7, "ci_level": 0.95,
                         "plan": "verification/criteria.yaml",
                         "release_policy": {"inconclusive_blocks_release": False, "rationale": "fixture"}}}
    return _checked({**data, **fields}, VnvRecord)


def cohort_summary(**fields: Any) -> dict:
    """``metrics/cohort.json``; ``fields`` replace any entry."""
    data = {"patients": 4, "studies": 5, "files": 60, "dose_report_series": 1, "patients_per_site": {"a": 2, "b": 2},
            "patients_per_manufacturer": {"GE": 2, "SIEMENS": 2}, "patients_per_sex": {"F": 2, "M": 2},
            "age_min": 30, "age_max": 70, "lesion_ml_min": 0.1, "lesion_ml_median": 0.5, "lesion_ml_max": 1.5,
            "seed": 11, "external_sites": [], "external_seed": None}
    return _checked({**data, **fields}, CohortSummary)


def train_metrics(**fields: Any) -> dict:
    """``metrics/train.json``; ``fields`` replace any entry."""
    data = {"best_val_dice": 0.9, "best_epoch": 2, "best_val_dice_per_case": {"c1": 0.9}, "epochs": 2,
            "final_train_loss": 0.4, "seconds": 10.0, "weights_sha256": "ab" * 32, "seed": 3, "threads": 2,
            "device": "cpu", "world_size": 1, "amp": False, "precision": "float32", "train_cases": 2, "val_cases": 1,
            "train_voxels_per_second": 1000.0}
    return _checked({**data, **fields}, TrainMetrics)


def deid_report(**fields: Any) -> dict:
    """``metrics/deid.json`` (a finished run with its leak check); ``fields`` replace any entry."""
    data = {"files_in": 10, "written": 9, "quarantined": 1, "quarantined_by_reason": {"burned_in_annotation": 1},
            "quarantined_share": 0.1, "removed_unknown_attributes": 0, "removed_private_attributes": 5,
            "pixel_text": {"files_screened": 8, "frames_screened": 8, "files_ocr": 0, "frames_ocr": 0,
                           "files_with_text": 0},
            "patients": 2, "studies": 3, "series": 3,
            "profile": {"table_rows": 600, "method_codes": ["113100"],
                        "options": {"retain_longitudinal_temporal": "modified", "retain_patient_characteristics": True,
                                    "retain_device_identity": False, "retain_institution_identity": False,
                                    "retain_uids": False, "retain_safe_private": False, "clean_descriptors": True,
                                    "clean_structured_content": False, "clean_graphics": False}},
            "allow_listed_attributes": 900,
            "leak_check": {"inputs_read": 10, "outputs_checked": 9, "identifying_values": 40, "leaks": 0},
            "max_quarantined_share": 0.2, "seconds": 1.5, "status": "ok"}
    return _checked({**data, **fields}, DeidReport)


def onnx_export(role: str, file_bytes: int, dice: float = 0.9) -> dict:
    """One released file of ``metrics/export.json``."""
    case = {"case_id": "c1", "voxels": 100, "max_abs_diff": 1e-6, "argmax_mismatches": 0, "dice": dice}
    return {"onnx": {"sha256": "0" * 64, "bytes": file_bytes, "opset": 17, "exporter": "torchscript"},
            "file": f"{role}.onnx", "parameters": 1000, "source_checkpoint": f"models/{role}.pt",
            "method": "none" if role == "teacher" else "distill", "candidate": role, "precision": "fp32",
            "runtime": "onnxruntime-cpu", "runtime_version": "1.0", "parity_cases": [case],
            "parity": {"cases": 1, "max_abs_diff": 1e-6, "argmax_mismatches": 0, "voxels": 100, "mean_dice": dice},
            "keep_largest_component": False, "foreground_threshold": 0.5}


def export_metrics(**fields: Any) -> dict:
    """``metrics/export.json`` with only the teacher released; ``fields`` replace any entry."""
    data = {"opset": 17, "exporter": "torchscript", "parity_atol": 1e-4, "compressed_released": False,
            "compression_reason": "no candidate met every target", "runtime": "onnxruntime-cpu",
            "runtime_version": "1.0", "teacher": onnx_export("teacher", 4550), "compressed": None,
            "volume_latency_ms": {"volume_shape": [32, 32, 16], "repeats": 2, "teacher_runtime": 10.0,
                                  "teacher_torch_eager": 12.0},
            "val_dice_teacher": 0.9, "ratios": {"teacher_runtime_vs_torch_eager": 1.2}}
    return _checked({**data, **fields}, ExportMetrics)


def compress_metrics(shipped: bool = True) -> dict:
    """``metrics/compress.json`` as the compress stage writes it: a chosen candidate, or none."""
    drop = {"mean": 0.004, "ci_lower": -0.002, "ci_upper": 0.011, "n": 3, "patients": 3, "level": 0.95}
    targets = {"max_dice_drop": 0.01, "min_speedup": 3.0, "min_size_reduction": 4.0, "parity_atol": 1e-4,
               "max_argmax_mismatches": 0, "speed_tie": 0.1}
    model = {"candidate": "half", "method": "distill", "precision": "fp32", "checkpoint": "half.pt",
             "runtime": "openvino-cpu", "runtime_version": "2026.4.1", "keep_largest_component": False,
             "foreground_threshold": 0.3, "val_dice": 0.88, "volume_ms": 60.0, "bytes": 500, "dice_drop": drop,
             "speedup": 4.5, "size_reduction": 9.1}
    teacher = {"candidate": "teacher", "method": "none", "precision": "fp32", "checkpoint": None,
               "runtime": "openvino-cpu", "runtime_version": "2026.4.1", "keep_largest_component": True,
               "foreground_threshold": 0.25, "val_dice": 0.884, "volume_ms": 270.0, "bytes": 4550,
               "dice_drop": None, "speedup": None, "size_reduction": None}
    measured = {"runtime": "openvino-cpu", "runtime_version": "2026.4.1", "parameters": 1000,
                "parity": {"max_abs_diff": 1e-5, "voxels": 100, "argmax_mismatches": 0}}
    rows = [{"name": "teacher", "source": "teacher", "precision": "fp32", "bytes": 4550, "volume_ms": 270.0,
             "torch_eager_volume_ms": 280.0, "val_dice": 0.884, "verdict": "reference", **measured},
            {"name": "half", "source": "half", "precision": "fp32", "bytes": 500, "volume_ms": 60.0,
             "torch_eager_volume_ms": 70.0, "val_dice": 0.88, "dice_drop": drop, "speedup": 4.5,
             "size_reduction": 9.1, "verdict": "chosen" if shipped else "paired val Dice drop +0.0400 > 0.01",
             **measured}]
    return _checked({
        "compressed": shipped, "chosen": "half@openvino-cpu" if shipped else None,
        "reason": "half is the fastest candidate meeting every target" if shipped
        else "no candidate met every target: nothing is released as a compressed model",
        "runtime": "openvino-cpu", "shipped": model if shipped else None, "teacher": teacher, "candidates": rows,
        "targets": targets,
        "training": {"half": {"method": "distill", "epochs": 60, "best_epoch": 52, "best_val_dice": 0.879,
                              "kd_weight": 0.5, "threads": 2, "seconds": 130.0, "curve": []}},
        "runtimes_available": ["onnxruntime-cpu", "openvino-cpu"], "train_cases": 2, "val_cases": 1, "threads": 2,
        "workers": 1, "seed": 4}, CompressMetrics)


def compression_record(shipped: bool = True) -> dict:
    """``models/compression.json`` of the same choice as ``compress_metrics``."""
    chosen = compress_metrics(shipped)
    return _checked({"teacher": chosen["teacher"], "compressed": chosen["shipped"], "reason": chosen["reason"],
                     "targets": chosen["targets"], "training_case_ids": ["c1", "c2"], "selection_case_ids": ["c3"],
                     "calibration_case_ids": ["c1"]}, CompressionRecord)


def manifest(files: dict[str, bytes] | None = None, **fields: Any) -> dict:
    """``release/manifest.json`` listing ``files`` (path under the release folder -> content)."""
    listed = [{"path": path, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
              for path, content in sorted((files or {}).items())]
    data = {"git_commit": "1" * 40, "commit_date": "2026-01-02T03:04:05+00:00", "draft": False,
            "uncommitted_changes": [], "dvc_lock_evidence_sha256": "d" * 64, "mlflow_runs": {"train": "f" * 32},
            "release_status": "releasable", "reasons": [], "files": listed}
    return _checked({**data, **fields}, Manifest)


def _checked(data: dict, model) -> dict:
    check_record(data, model, f"fixture {model.__name__}")
    return data
