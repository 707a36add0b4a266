"""The compress stage on tiny data: each method end to end, the test split never reaches training
or calibration (SRS-COMP-002, SRS-TRAIN-004), every model measured on every runtime and the choice
recorded (SRS-COMP-001, SRS-COMP-005)."""

from __future__ import annotations

import pytest
import torch

from pipeline.compress import fit, guard, quantize
from pipeline.compress import stage as compress_stage
from pipeline.compress.record import load_compression
from pipeline.preprocess.records import load_splits
from pipeline.nets.checkpoint import load_checkpoint
from pipeline.data.cache import LockedSplitError
from pipeline.recipe import loop
from pipeline.runtime import engines
from tests.export import tiny


def locked_ids(splits_path):
    return {entry.case_id for entry in load_splits(splits_path).cases("test")}


@pytest.mark.verifies("SRS-COMP-002")
def test_guard_refuses_a_test_case(tmp_path):
    _, splits = tiny.make_cache(tmp_path)
    record = load_splits(splits)
    leaked = record.cases("test")[0].case_id
    with pytest.raises(LockedSplitError, match="INT8 calibration would use 1 case"):
        guard.check_not_locked([record.cases("train")[0].case_id, leaked], record, "INT8 calibration")


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    """One run of the stage on tiny data, with spies on what training and calibration saw."""
    tmp_path = tmp_path_factory.mktemp("compress")
    cache, splits = tiny.make_cache(tmp_path)
    teacher = tiny.make_teacher(tmp_path / "teacher.pt")
    seen = {"fit": set(), "calibration": set()}
    real_fit, real_calib = fit.fit, quantize.calibration_batches

    def spy_fit(net, train, val, *args, **kwargs):
        seen["fit"].update(c.case_id for c in train + val)
        return real_fit(net, train, val, *args, **kwargs)

    def spy_calib(cases, patch):
        seen["calibration"].update(c.case_id for c in cases)
        return real_calib(cases, patch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit, "fit", spy_fit)
        patch.setattr(quantize, "calibration_batches", spy_calib)
        paths = compress_stage.CompressPaths(teacher, cache, splits, tmp_path / "candidates",
                                             tmp_path / "choice.json", tmp_path / "compress.json")
        metrics = compress_stage.run(tiny.compress_params(), paths, **tiny.onnx_format())
    return {"tmp": tmp_path, "splits": splits, "seen": seen, "metrics": metrics, "paths": paths}


@pytest.mark.slow
@pytest.mark.verifies("SRS-COMP-002", "SRS-TRAIN-004")
def test_stage_never_shows_test_cases(compressed):
    seen, record = compressed["seen"], load_compression(compressed["paths"].choice)
    locked = locked_ids(compressed["splits"])
    assert locked and seen["fit"] and seen["calibration"]
    assert not (seen["fit"] | seen["calibration"]) & locked
    assert not set(record.training_case_ids + record.calibration_case_ids + record.selection_case_ids) & locked


@pytest.mark.slow
@pytest.mark.verifies("SRS-COMP-001", "SRS-COMP-004", "SRS-COMP-005")
def test_every_method_is_built_measured_on_every_runtime_and_the_choice_recorded(compressed):
    metrics, paths = compressed["metrics"], compressed["paths"]
    runtimes = [r for r in ("onnxruntime-cpu", "openvino-cpu") if r in engines.available()]
    names = {"teacher", "narrow", "narrow_scratch", "pruned"}
    measured = {(r["name"], r["runtime"]) for r in metrics["candidates"]}
    assert measured == {(n + suffix, rt) for n in names for suffix in ("", "_int8") for rt in runtimes}
    for row in metrics["candidates"]:
        assert row["volume_ms"] > 0 and row["bytes"] > 0 and 0 <= row["val_dice"] <= 1, row
        assert row["verdict"] and len(row["per_case"]) == metrics["val_cases"]
        if row["precision"] == "fp32":
            assert row["torch_eager_volume_ms"] > 0
    assert {t["method"] for t in metrics["training"].values()} == {"distill", "scratch", "prune"}
    assert metrics["training"]["narrow_scratch"]["kd_weight"] == 0.0 < metrics["training"]["narrow"]["kd_weight"]
    record = load_compression(paths.choice)
    assert record.compressed is not None and metrics["chosen"] == f"{record.compressed.candidate}@{record.compressed.runtime}"
    assert record.teacher.runtime == record.compressed.runtime and record.compressed.dice_drop.n > 0
    for name in ("narrow", "narrow_scratch", "pruned"):  # every candidate's weights are kept for audit
        net, config = load_checkpoint(paths.candidates / f"{name}.pt")
        assert config["candidate"] == name and config["weights_sha256"]
    pruned, config = load_checkpoint(paths.candidates / "pruned.pt")
    assert config["pruned"] and pruned(torch.zeros(1, 1, *tiny.PATCH)).shape == (1, 2, *tiny.PATCH)
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in load_checkpoint(
        compressed["tmp"] / "teacher.pt")[0].parameters())


@pytest.mark.slow
@pytest.mark.verifies("SRS-COMP-005")
def test_unmet_targets_release_no_compressed_model(tmp_path):
    cache, splits = tiny.make_cache(tmp_path)
    teacher = tiny.make_teacher(tmp_path / "teacher.pt")
    params = tiny.compress_params(candidates=[{"name": "narrow", "method": "distill", "epochs": 1,
                                               "network": {"channels": [2, 4], "strides": [2]}}],
                                  selection={"min_size_reduction": 1000.0}, quantize={"enabled": False})
    paths = compress_stage.CompressPaths(teacher, cache, splits, tmp_path / "candidates", tmp_path / "choice.json",
                                         tmp_path / "compress.json")
    metrics = compress_stage.run(params, paths, **tiny.onnx_format())
    record = load_compression(paths.choice)
    assert record.compressed is None and metrics["chosen"] is None and not metrics["compressed"]
    assert "nothing is released as a compressed model" in record.reason
    assert record.teacher.candidate == "teacher" and record.teacher.checkpoint is None


@pytest.mark.verifies("SRS-COMP-001")
def test_kd_loss_is_zero_for_identical_logits_and_positive_otherwise():
    logits = torch.randn(2, 2, 4, 4, 4)
    assert float(loop.kd_loss(logits, logits, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(loop.kd_loss(logits, -logits, 2.0)) > 0.01


@pytest.mark.slow
@pytest.mark.verifies("SRS-TRAIN-002")
def test_candidates_trained_side_by_side_equal_those_trained_in_turn(tmp_path):
    """Worker processes change when a candidate trains, not what it learns: the same seed and
    thread count give the same weights bit for bit."""
    from pipeline.data.cache import load_cases
    from pipeline.recipe import determinism
    from pipeline.recipe.params import RecipeParams
    from pipeline.runtime.spec import WindowSpec

    cache, splits = tiny.make_cache(tmp_path)
    teacher, config = load_checkpoint(tiny.make_teacher(tmp_path / "teacher.pt"))
    loaded = load_cases(cache, load_splits(splits), ["train", "val"])
    recipe = RecipeParams.model_validate(config["recipe"])
    window = WindowSpec(spatial_dims=3, patch_size=tiny.PATCH, sw_overlap=0.25, sw_batch_size=2)
    soft = fit.teacher_logits(teacher, loaded["train"], recipe)
    weights = {}
    for workers, threads in ((1, 1), (2, 2)):
        params = tiny.compress_params(workers=workers, threads=threads)
        determinism.pin(params.seed, params.threads)
        trained = compress_stage._train_all(params, teacher, loaded["train"], loaded["val"], recipe, window, soft,
                                            "cpu", None)
        weights[workers] = {name: (determinism.weights_sha256(net.state_dict()), result["threads"])
                            for name, (net, result) in trained.items()}
    assert weights[1] == weights[2] and {t for _, t in weights[2].values()} == {1}
