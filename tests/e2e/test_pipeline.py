"""End to end: ``dvc repro`` runs every stage on a tiny cohort in a copy of the repository,
leaves a complete release, and a second ``dvc repro`` does nothing.

Runs the real commands of ``dvc.yaml`` (no stage is faked); only the sizes in ``params.yaml``
are made tiny so that the whole pipeline takes a couple of minutes on two cores.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.cohort.record import load_cohort_summary
from pipeline.compress.record import load_compress_metrics, load_compression
from pipeline.core.atomic import dumps_json
from pipeline.data.cache import INDEX
from pipeline.deid.record import load_deid_report
from pipeline.export.record import load_export_metrics
from pipeline.governance.manifest import load_manifest
from pipeline.params import repo_paths
from pipeline.preprocess.records import load_cache_index, load_fingerprint, load_splits
from pipeline.trace.record import load_trace_summary
from pipeline.train.record import load_train_metrics
from pipeline.verify.record import load_test_split_log, load_vnv
from tests.e2e.repo_copy import KEY, copy_repository, run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def tiny_params() -> dict:
    """The committed params.yaml with small sizes (every other value as shipped)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    site = dict(institution="Test Hospital", model="Model X", rows=40, columns=36, slices=14,
                noise_hu=10.0, slice_order="head_first")
    params["cohort"].update(
        patients_per_site=4, followup_every=3, dose_report_every=4,
        sites=[dict(site, name="alpha", manufacturer="ACME", pixel_spacing_mm=1.8, slice_thickness_mm=4.0),
               dict(site, name="beta", manufacturer="BETA", pixel_spacing_mm=2.0,
                    slice_thickness_mm=5.0, slice_order="feet_first")])
    params["deid"]["max_quarantined_share"] = 0.2
    train = params["train"]
    train.update(epochs=2, patch_size=[32, 32, 16], cases_per_batch=2, patches_per_case=1)
    train["network"].update(channels=[4, 8, 16], strides=[2, 2])
    compress = params["compress"]
    for candidate in compress["candidates"]:
        candidate["epochs"] = 1
        if "network" in candidate:
            candidate["network"].update(channels=[2, 4, 8], strides=[2, 2])
            if isinstance(candidate["network"].get("up_kernel_size"), list):  # one per level: keep the top's
                candidate["network"]["up_kernel_size"] = candidate["network"]["up_kernel_size"][:2]
    compress["quantize"]["calibration_cases"] = 1
    compress["latency_repeats"] = 2
    compress["bootstrap_samples"] = 100
    params["export"]["latency_repeats"] = 2
    params["verify"]["bootstrap_samples"] = 100
    return params


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repository's tracked files, committed, with tiny params."""
    return copy_repository(tmp_path_factory.mktemp("e2e") / "repo", yaml.safe_dump(tiny_params(), sort_keys=False))


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run(repo, "dvc", *args)


@pytest.fixture(scope="module")
def first_run(repo):
    done = _dvc(repo, "repro")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


@pytest.mark.verifies("SRS-PLAT-005", "SRS-DOC-003", "SRS-COMP-005", "SRS-PLAT-006")
def test_dvc_repro_leaves_a_complete_release(repo, first_run):
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for stage in stages:
        assert f"Running stage '{stage}'" in first_run.stdout, stage
    manifest = json.loads((repo / "release/manifest.json").read_text())
    released = {entry["path"] for entry in manifest["files"]}
    for expected in ("models/teacher.onnx", "trace/index.html",
                     "techfile/technical_file.html", "techfile/technical_file.pdf"):
        assert any(path.endswith(expected) for path in released), expected
    vnv = json.loads((repo / "metrics/vnv.json").read_text())
    assert vnv["release_status"] in ("releasable", "not releasable")
    assert (repo / "mlflow.db").is_file()
    # a compressed model is released exactly when the compress stage chose one (SRS-COMP-005)
    compress = json.loads((repo / "metrics/compress.json").read_text())
    assert ("models/compressed.onnx" in released) is compress["compressed"]
    if not compress["compressed"]:
        assert vnv["criteria"]["VAL-002"]["status"] == "FAIL" and vnv["release_status"] == "not releasable"
    # one file-mode policy under release/ (SRS-PLAT-006)
    modes = {path.relative_to(repo).as_posix(): stat.S_IMODE(path.stat().st_mode)
             for path in [repo / "release", *(repo / "release").rglob("*")] if not path.is_symlink()}
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o755 if (repo / p).is_dir() else 0o644)}
    assert not wrong, wrong


@pytest.mark.verifies("SRS-PLAT-005")
def test_second_repro_is_a_no_op(repo, first_run):
    lock = (repo / "dvc.lock").read_bytes()
    again = _dvc(repo, "repro")
    assert again.returncode == 0, again.stderr[-4000:]
    assert "Running stage" not in again.stdout
    assert "Data and pipelines are up to date" in again.stdout
    assert (repo / "dvc.lock").read_bytes() == lock


@pytest.mark.verifies("SRS-DEID-005")
def test_the_key_is_nowhere_in_the_outputs(repo, first_run):
    key = KEY.encode()
    for folder in ("data", "metrics", "release", "models", "mlartifacts", "reports"):
        for path in (repo / folder).rglob("*"):
            if path.is_file():
                assert key not in path.read_bytes(), path
    assert key not in (repo / "dvc.lock").read_bytes()
    assert key not in (repo / "mlflow.db").read_bytes()


@pytest.mark.verifies("SRS-PLAT-005", "SRS-DOC-001")
def test_every_record_the_run_leaves_parses_through_the_model_beside_its_writer(repo, first_run):
    paths = repo_paths(repo)
    loaders = {  # every JSON record a stage writes and another reads -> its model's loader
        paths.cohort_metrics: load_cohort_summary, paths.deid_metrics: load_deid_report,
        f"{paths.cache}/{INDEX}": load_cache_index, paths.splits: load_splits, paths.fingerprint: load_fingerprint,
        paths.train_metrics: load_train_metrics, paths.choice: load_compression,
        paths.compress_metrics: load_compress_metrics, paths.export_metrics: load_export_metrics,
        paths.vnv_metrics: load_vnv, paths.test_split_log: load_test_split_log,
        paths.trace_metrics: load_trace_summary, paths.manifest: load_manifest}
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    outputs = {out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    assert not {o for o in outputs if o.endswith(".json")} - set(loaders), "a JSON stage output without a model"
    for rel, load in loaders.items():
        record = load(repo / rel)
        # the model holds every field as written: dumped again, the same JSON (no key lost, no int made a float)
        assert dumps_json(record.model_dump(exclude_unset=True)) == dumps_json(json.loads((repo / rel).read_text())), rel
