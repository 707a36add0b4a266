"""The development-cohort benchmark (``benchmarks/bench_devcohort.py``, SRS-COMP-001): its options, its
statistics, its cache of generated cohorts, and one tiny cohort generated and evaluated end to end."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.networks.nets import UNet

from benchmarks import bench_devcohort as bench
from pipeline.compress import measure
from pipeline.core.bootstrap import bootstrap_mean
from pipeline.core.errors import UserError
from pipeline.nets.onnx import export_onnx
from pipeline.params import load_params
from pipeline.runtime import engines
from pipeline.runtime.integrity import sidecar_path
from pipeline.runtime.spec import WindowSpec

ROOT = Path(__file__).resolve().parents[2]
RELEASE = load_params(ROOT / "params.yaml")
TINY = bench.DevCohort(99990201, 99990202, 1, 1)
SAFE = "99990001:99990002:24:8"


# --- options -------------------------------------------------------------------------------------

@pytest.mark.verifies("SRS-COMP-001")
def test_default_cohorts_are_the_two_measured_ones():
    cohorts = bench.parse_cohorts(bench.DEFAULT_SEEDS, RELEASE.cohort)
    assert cohorts == [bench.DevCohort(99990001, 99990002, 24, 8), bench.DevCohort(99990003, 99990004, 48, 16)]
    assert [c.name for c in cohorts] == ["99990001-99990002-24", "99990003-99990004-48"]


@pytest.mark.verifies("SRS-COMP-001")
@pytest.mark.parametrize("text", ["", "1:2:3", "1:2:3:4:5", "a:2:3:4", "1:2:-3:4", "1:2:3.5:4", "1:2:0:1",
                                  f"{SAFE},", "1;2;3;4"])
def test_malformed_cohorts_are_refused(text):
    with pytest.raises(UserError, match="DEV_SEEDS"):
        bench.parse_cohorts(text, RELEASE.cohort)


@pytest.mark.verifies("SRS-COMP-001")
@pytest.mark.parametrize("which", ["seed", "external"])
def test_the_release_cohort_seeds_are_refused(which):
    seed = RELEASE.cohort.seed if which == "seed" else RELEASE.cohort.external.seed
    text = f"{seed}:99990002:24:8" if which == "seed" else f"99990001:{seed}:24:8"
    with pytest.raises(UserError, match=f"seed {seed} is params.yaml's cohort"):
        bench.parse_cohorts(text, RELEASE.cohort)


@pytest.mark.verifies("SRS-COMP-001")
@pytest.mark.parametrize("text", [f"{SAFE},99990001:99990005:48:16", f"{SAFE},99990005:99990002:48:16",
                                  "99990001:99990001:24:8"])
def test_a_seed_given_twice_is_refused(text):
    with pytest.raises(UserError, match="given twice"):
        bench.parse_cohorts(text, RELEASE.cohort)


@pytest.mark.verifies("SRS-COMP-001")
def test_without_a_release_external_cohort_only_zero_external_patients():
    release = RELEASE.cohort.model_copy(update={"external": None})
    assert bench.parse_cohorts("99990001:99990002:24:0", release)[0].external_patients_per_site == 0
    with pytest.raises(UserError, match="no cohort.external"):
        bench.parse_cohorts(SAFE, release)


@pytest.mark.verifies("SRS-COMP-001")
def test_candidates_option():
    assert not bench.wants_candidates({}) and not bench.wants_candidates({"DEV_CANDIDATES": "0"})
    assert bench.wants_candidates({"DEV_CANDIDATES": "1"})
    with pytest.raises(UserError, match="DEV_CANDIDATES"):
        bench.wants_candidates({"DEV_CANDIDATES": "all"})


@pytest.mark.verifies("SRS-COMP-001")
def test_dev_params_change_only_the_cohort_seeds_and_sizes(tmp_path):
    cohort, deid, pre = bench.dev_params(RELEASE, bench.DevCohort(99990001, 99990002, 3, 2), tmp_path)
    assert (cohort.seed, cohort.patients_per_site) == (99990001, 3)
    assert (cohort.external.seed, cohort.external.patients_per_site) == (99990002, 2)
    assert cohort.model_dump(exclude={"seed", "patients_per_site", "external"}) == RELEASE.cohort.model_dump(
        exclude={"seed", "patients_per_site", "external"})
    assert cohort.external.sites == RELEASE.cohort.external.sites
    assert deid.model_dump(exclude={"source", "key_file"}) == RELEASE.deid.model_dump(exclude={"source", "key_file"})
    assert Path(deid.key_file).parent == tmp_path and Path(deid.key_file) != Path(RELEASE.deid.key_file)
    assert pre.model_dump(exclude={"source"}) == RELEASE.preprocess.model_dump(exclude={"source"})
    assert pre.source.path == str(tmp_path / "deid")
    cohort, _, pre = bench.dev_params(RELEASE, bench.DevCohort(99990001, 99990002, 3, 0), tmp_path)
    assert cohort.external is None and pre.splits.external_sites == []


# --- statistics ----------------------------------------------------------------------------------

def _info(cohort: str, patient: str, site: str) -> dict:
    return {"cohort": cohort, "patient": patient, "site": site}


@pytest.mark.verifies("SRS-COMP-001")
def test_summary_of_known_drops():
    teacher = {"a": 0.90, "b": 0.80, "c": 0.70, "d": 0.60, "e": 0.50}
    model = {"a": 0.85, "b": 0.80, "c": 0.72, "d": 0.50, "e": 0.47}  # drops .05 0 -.02 .10 .03
    info = {"a": _info("x", "p1", "s1"), "b": _info("x", "p1", "s1"), "c": _info("x", "p2", "s2"),
            "d": _info("y", "p1", "s2"), "e": _info("y", "p3", "s1")}
    summary = bench.summarise(teacher, model, info, samples=500, seed=7, largest=3)
    overall = summary["all"]
    assert overall["n"] == 5 and overall["mean"] == pytest.approx(0.032)
    assert overall["median"] == pytest.approx(0.03)
    assert overall["p10"] == pytest.approx(np.quantile([0.05, 0, -0.02, 0.1, 0.03], 0.1))
    assert overall["p90"] == pytest.approx(np.quantile([0.05, 0, -0.02, 0.1, 0.03], 0.9))
    assert overall["teacher_dice"] == pytest.approx(0.70) and overall["model_dice"] == pytest.approx(0.668)
    # patient p1 of cohort x (two cases) is one cluster; p1 of cohort y is another
    assert overall["patients"] == 4
    reference = bootstrap_mean([teacher[k] - model[k] for k in teacher], ["x/p1", "x/p1", "x/p2", "y/p1", "y/p3"],
                               500, 7)
    assert (overall["ci_lower"], overall["ci_upper"]) == (round(reference.ci_lower, 6), round(reference.ci_upper, 6))
    assert summary["by_cohort"]["x"]["mean"] == pytest.approx(0.01) and summary["by_cohort"]["y"]["n"] == 2
    assert summary["by_site"]["s1"]["mean"] == pytest.approx(round(0.08 / 3, 6))
    assert summary["by_site"]["s2"]["patients"] == 2
    assert [d["case"] for d in summary["largest_drops"]] == ["d", "a", "e"]
    assert summary["largest_drops"][0] == {"case": "d", "site": "s2", "drop": pytest.approx(0.1), "teacher": 0.6,
                                           "model": 0.5}


@pytest.mark.verifies("SRS-COMP-001")
def test_cases_of_one_patient_are_resampled_together():
    # two patients: one with three cases of drop 1, one with a case of drop 0; a case bootstrap
    # would give intervals strictly inside (0, 1), the patient bootstrap only the two extremes' mixtures
    teacher = {k: 1.0 for k in "abcd"}
    model = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 1.0}
    info = {k: _info("x", "p1" if k != "d" else "p2", "s") for k in "abcd"}
    stats = bench.summarise(teacher, model, info, samples=2000, seed=1)["all"]
    assert stats["patients"] == 2 and stats["mean"] == pytest.approx(0.75)
    assert stats["ci_lower"] == 0.0 and stats["ci_upper"] == 1.0


@pytest.mark.verifies("SRS-COMP-001")
def test_drift_losses_are_clean_minus_drifted_with_the_largest():
    info = {k: _info("c", f"p{i}", "s") for i, k in enumerate("abcd")}
    clean = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    drifted = {"a": 0.9, "b": 0.7, "c": 0.7, "d": 0.2}
    stats = bench.drift_statistics(clean, drifted, info, samples=500, seed=3)
    assert stats["n"] == 4 and stats["mean"] == pytest.approx(0.125) and stats["max"] == pytest.approx(0.4)
    assert stats["ci_lower"] <= stats["mean"] <= stats["ci_upper"]
    with pytest.raises(ValueError, match="different cases"):
        bench.drift_statistics(clean, {"a": 0.9}, info, 10, 0)


@pytest.mark.verifies("SRS-COMP-001")
def test_summary_refuses_different_cases():
    with pytest.raises(ValueError, match="different cases"):
        bench.summarise({"a": 1.0}, {"b": 1.0}, {"a": _info("x", "p", "s")}, 10, 0)


# --- the cache of generated cohorts --------------------------------------------------------------

@pytest.mark.verifies("SRS-COMP-001")
def test_a_complete_cohort_is_reused_and_an_incomplete_one_rebuilt(tmp_path, monkeypatch):
    calls = []

    def fake_cores(cohort, deid, pre, folder):
        calls.append(cohort.seed)
        (folder / "raw").mkdir()
        (folder / "preprocessed").mkdir()
        return {"fake": True}

    monkeypatch.setattr(bench, "_run_cores", fake_cores)
    folder = tmp_path / TINY.name
    folder.mkdir()
    (folder / "leftover").write_text("half-written")  # an interrupted build: no marker
    record = bench.build_cohort(RELEASE, TINY, folder, log=lambda *_: None)
    assert calls == [TINY.seed] and not (folder / "leftover").exists() and not (folder / "raw").exists()
    assert json.loads((folder / bench.MARKER).read_text()) == record and record["summaries"] == {"fake": True}
    assert bench.build_cohort(RELEASE, TINY, folder, log=lambda *_: None) == record and len(calls) == 1
    other = bench.DevCohort(TINY.seed, TINY.external_seed, TINY.patients_per_site, 2)  # same folder name
    bench.build_cohort(RELEASE, other, folder, log=lambda *_: None)
    assert len(calls) == 2
    (folder / bench.MARKER).write_text("{")  # a broken marker is no marker
    bench.build_cohort(RELEASE, other, folder, log=lambda *_: None)
    assert len(calls) == 3


# --- the release's models ------------------------------------------------------------------------

def _tiny_onnx(path: Path, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,), num_res_units=0)
    export_onnx(net, path, 3, 1, [32, 32, 16], RELEASE.export.opset)
    return path.read_bytes()


def _release(tmp_path: Path, compressed: bool = True) -> None:
    folder = tmp_path / RELEASE.paths.models
    folder.mkdir(parents=True)
    _tiny_onnx(folder / "teacher.onnx")
    if compressed:
        _tiny_onnx(folder / "compressed.onnx", seed=1)
    choice = {"teacher": {"foreground_threshold": 0.5, "keep_largest_component": True},
              "compressed": {"foreground_threshold": 0.4, "keep_largest_component": False} if compressed else None}
    (tmp_path / RELEASE.paths.choice).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / RELEASE.paths.choice).write_text(json.dumps(choice))


@pytest.mark.verifies("SRS-COMP-001")
def test_release_models_carry_their_own_post_processing(tmp_path, monkeypatch):
    _release(tmp_path)
    monkeypatch.chdir(tmp_path)
    models, missing = bench.release_models(RELEASE)
    assert missing is None and [m.name for m in models] == ["teacher", "compressed"]
    assert models[0].postprocessing == bench.PostProcessing(0.5, True)
    assert models[1].postprocessing == bench.PostProcessing(0.4, False)
    assert models[1].record()["sha256"] == hashlib.sha256(models[1].onnx).hexdigest()


@pytest.mark.verifies("SRS-COMP-001")
def test_a_release_without_a_compressed_model_says_so(tmp_path, monkeypatch):
    _release(tmp_path, compressed=False)
    monkeypatch.chdir(tmp_path)
    models, missing = bench.release_models(RELEASE)
    assert [m.name for m in models] == ["teacher"] and "shipped no compressed model" in missing


@pytest.mark.verifies("SRS-COMP-001")
def test_a_model_file_that_fails_its_checksum_is_refused(tmp_path, monkeypatch):
    _release(tmp_path)
    monkeypatch.chdir(tmp_path)
    sidecar_path(Path(RELEASE.paths.models) / "compressed.onnx").write_text("0" * 64 + "\n")
    with pytest.raises(UserError, match="fails its checksum"):
        bench.release_models(RELEASE)


@pytest.mark.verifies("SRS-COMP-001")
def test_candidates_are_exported_with_their_measured_post_processing(tmp_path, monkeypatch):
    """Each candidate checkpoint becomes an ONNX model computing what its network computes, with the
    post-processing of its FP32 ONNX Runtime row; a checkpoint without such a row is skipped, said so."""
    from pipeline.nets.checkpoint import save_checkpoint
    from pipeline.nets.unet import build_unet

    monkeypatch.chdir(tmp_path)
    network = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 2,
               "top_residual_unit": False, "norm": "batch", "encoder_subunits": [1, 2]}
    folder = Path(RELEASE.paths.candidates)
    folder.mkdir(parents=True)
    torch.manual_seed(3)
    net = build_unet(network).eval()
    for name in ("measured", "unmeasured"):
        save_checkpoint(folder / f"{name}.pt", net.state_dict(), {"network": network, "out_channels": 2})
    rows = [{"name": "measured", "runtime": engines.ORT_CPU, "precision": "fp32",
             "postprocessing": {"foreground_threshold": 0.35, "keep_largest_component": True}},
            {"name": "measured", "runtime": engines.ORT_CPU, "precision": "int8",
             "postprocessing": {"foreground_threshold": 0.5, "keep_largest_component": False}}]
    Path(RELEASE.paths.compress_metrics).parent.mkdir(parents=True, exist_ok=True)
    Path(RELEASE.paths.compress_metrics).write_text(json.dumps({"candidates": rows}))
    window = WindowSpec(spatial_dims=3, in_channels=1, patch_size=[16, 16, 8], sw_overlap=0.25, sw_batch_size=2)
    lines = []
    (tmp_path / "onnx").mkdir()
    models = bench.candidate_models(RELEASE, window, tmp_path / "onnx", log=lines.append)
    assert [m.name for m in models] == ["measured"] and models[0].postprocessing == bench.PostProcessing(0.35, True)
    assert len(lines) == 1 and "unmeasured" in lines[0] and "skipped" in lines[0]
    x = torch.randn(2, 1, 16, 16, 8)
    got = engines.open_engine(models[0].onnx, engines.ORT_CPU, threads=1)(x.numpy())
    with torch.no_grad():
        assert np.abs(got - net(x).numpy()).max() < 1e-4


@pytest.mark.verifies("SRS-COMP-001")
def test_no_teacher_no_benchmark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = []
    assert bench.run(RELEASE, {"DEV_SEEDS": SAFE}, tmp_path / "cache", log=lines.append) is None
    assert lines[0].startswith("skipped:") and not (tmp_path / "cache").exists()


@pytest.mark.verifies("SRS-COMP-001")
def test_windows_are_the_compress_stages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no teacher checkpoint here: the train section's patch
    window = bench.window_of(RELEASE)
    assert window.patch_size == RELEASE.train.patch_size and window.sw_overlap == RELEASE.compress.sw_overlap
    assert window.sw_batch_size == RELEASE.compress.sw_batch_size


# --- end to end: a tiny generated cohort -----------------------------------------------------------

@pytest.mark.verifies("SRS-COMP-001")
def test_a_tiny_cohort_generated_and_a_model_against_itself(tmp_path, monkeypatch):
    """Generation with the release's sites (1 patient each, 1 external), then a tiny random network
    against itself: every case of every split evaluated, every drop exactly 0, and per case the Dice
    the compress stage's own ``measure.validation`` gives at the same (fixed) post-processing."""
    monkeypatch.setenv(RELEASE.deid.key_env, "k" * 64)  # the project's key is never used
    start = time.perf_counter()
    folder = tmp_path / TINY.name
    record = bench.build_cohort(RELEASE, TINY, folder, log=lambda *_: None)
    generated = time.perf_counter() - start
    assert (folder / bench.MARKER).is_file() and (folder / "deid.key").stat().st_mode & 0o077 == 0
    assert (folder / "deid.key").read_text().strip() != "k" * 64
    assert not any((folder / name).exists() for name in bench.DICOM)
    cases = bench.load_cohort(TINY.name, folder)
    sites = {*(s.institution for s in RELEASE.cohort.sites), *(s.institution for s in RELEASE.cohort.external.sites)}
    assert len(cases) == record["summaries"]["preprocess"]["cases"] >= len(sites)
    assert {c.case.record.site for c in cases} == sites and "external" in {c.split for c in cases}

    blob = _tiny_onnx(tmp_path / "net.onnx")
    post = bench.PostProcessing(0.5, False)
    models = [bench.Model("teacher", blob, post, "random"), bench.Model("student", blob, post, "random")]
    window = WindowSpec(spatial_dims=3, in_channels=1, patch_size=[32, 32, 16], sw_overlap=0.25, sw_batch_size=4)
    drift = bench.Drift(1.05, 0.025, (0.0, 1.0))
    members = [c.case for c in cases if c.split == "train"]
    result = bench.evaluate(models, cases, window, threads=2, samples=200, seed=0, drift=drift, members=members)
    assert set(result["per_case"]) == {c.key for c in cases}
    stats = result["summary"]["student"]["all"]
    assert (stats["n"], stats["mean"], stats["ci_lower"], stats["ci_upper"]) == (len(cases), 0.0, 0.0, 0.0)
    assert stats["patients"] == record["summaries"]["cohort"]["patients"]
    # the drift: the same model loses the same; the summary is the per-case clean - drifted
    lost = result["drift"]["models"]
    assert lost["teacher"] == lost["student"] and lost["teacher"]["n"] == len(cases)
    per_case = [v["dice"]["teacher"] - v["dice_drift"]["teacher"] for v in result["per_case"].values()]
    assert lost["teacher"]["mean"] == pytest.approx(np.mean(per_case), abs=1e-6)
    assert lost["teacher"]["max"] == pytest.approx(max(per_case), abs=1e-6)
    # the attack: members are the given training cases, every development case a non-member
    attack = result["membership"]["student"]
    assert attack == result["membership"]["teacher"]
    assert (attack["members"], attack["nonmembers"]) == (len(members), len(cases))
    assert 0.0 <= attack["ci_lower"] <= attack["auc"] <= attack["ci_upper"] <= 1.0

    engine = engines.open_engine(blob, engines.ORT_CPU, 2, (4, 1, 32, 32, 16))
    product = measure.validation({"ort": engine}, None, [c.case for c in cases], window, "never", [0.5])["ort"]
    assert {f"{TINY.name}/{k}": v for k, v in product["per_case"].items()} == {
        k: v["dice"]["teacher"] for k, v in result["per_case"].items()}
    assert generated < 60, f"generating the tiny cohort took {generated:.0f} s"
