"""Data that is not the demo cohort through preprocess -> train -> compress -> export -> verify:
a 2D image folder (PNG images and masks) and a 3D MSD-layout NIfTI task, neither of which
records site, manufacturer, sex or age. Verify judges every criterion of the shipped V&V plan,
the subgroup criteria NOT APPLICABLE with the reason, and renders the explanation evidence."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.compress import stage as compress_stage
from pipeline.export import stage as export_stage
from pipeline.preprocess import stage as preprocess_stage
from pipeline.preprocess.params import PreprocessParams
from pipeline.runtime.model import ROLES, released_file
from pipeline.train import stage as train_stage
from pipeline.verify import stage as verify_stage
from pipeline.verify.params import ExplainParams, VerifyParams
from pipeline.verify.plan import load_plan
from pipeline.verify.record import load_vnv
from tests.data.msd_task import make_msd_task
from tests.data.tiny import make_image_folder, train_params
from tests.export import tiny

pytestmark = [pytest.mark.slow, pytest.mark.verifies("SRS-VNV-002", "SRS-VNV-003", "SRS-VNV-004", "SRS-VNV-005",
                                                     "SRS-DATA-006")]

PLAN = Path(__file__).resolve().parents[2] / "verification" / "criteria.yaml"
SUBGROUP_ATTRIBUTE = {"site": "site", "manufacturer": "manufacturer", "sex": "sex", "age_band": "age"}
TEACHER = {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0}  # has the default Grad-CAM layer
STUDENT = {"channels": [2, 4, 8], "strides": [2, 2], "num_res_units": 0}


def run_chain(root: Path, preprocess: PreprocessParams, spatial_dims: int, patch: list[int]) -> dict:
    """Every stage from preprocess to verify on ``preprocess.source``; the ``vnv.json`` content."""
    cache, splits = root / "cache", root / "splits.json"
    preprocess_stage.run(preprocess, preprocess_stage.PreprocessPaths(cache, splits, root / "fingerprint.json"))
    network = {"spatial_dims": spatial_dims, **TEACHER}
    train_stage.run(train_params(spatial_dims, network=network, patch_size=patch, epochs=2),
                    train_stage.TrainPaths(cache, splits, root / "teacher.pt", root / "train.json", root / "curve.csv"))
    student = {"name": "narrow", "method": "distill", "epochs": 1, "network": STUDENT}
    compress = tiny.compress_params(candidates=[student], quantize={"enabled": False}, runtimes=["onnxruntime-cpu"])
    compress_stage.run(compress, compress_stage.CompressPaths(root / "teacher.pt", cache, splits, root / "candidates",
                                                              root / "choice.json", root / "compress.json"),
                       **tiny.onnx_format())
    export_stage.run(tiny.export_params(), preprocess,
                     export_stage.ExportPaths(root / "teacher.pt", root / "candidates", root / "choice.json", cache,
                                              splits, root / "release", root / "export.json",
                                              root / "fingerprint.json"), "abc123", "run-1")
    params = VerifyParams(nsd_tolerance_mm=2.0, bootstrap_samples=200, seed=3, timing_repeats=1,
                          explain=ExplainParams(occlusion_mask_voxels=4, slices=2))
    paths = verify_stage.VerifyPaths(cache, splits, {role: released_file(root / "release", role) for role in ROLES},
                                     root / "teacher.pt", root / "reports", root / "vnv.json", PLAN,
                                     evaluation_log=root / "test_split_log.json")
    return verify_stage.run(params, paths)


def _source(tmp_path: Path, kind: str) -> tuple[PreprocessParams, int, list[int]]:
    splits = {"seed": 1, "val_fraction": 0.25, "test_fraction": 0.25, "stratify_by": "none"}
    if kind == "image_folder":
        folder = make_image_folder(tmp_path / "folder", count=12, size=48)
        return PreprocessParams.model_validate({
            "source": {"format": "image_folder", "path": str(folder), "classes": [{"name": "disc", "values": [255]}]}, "max_bad_fraction": 0.0,
            "target_spacing_mm": [1.0, 1.0], "normalisation": {"kind": "zscore"}, "crop_foreground": False,
            "splits": splits}), 2, [32, 32]
    task = make_msd_task(tmp_path / "Task00_Tiny")
    return PreprocessParams.model_validate({
        "source": {"format": "msd", "path": str(task)}, "max_bad_fraction": 0.0,
        "target_spacing_mm": [1.5, 1.5, 3.0], "normalisation": {"kind": "zscore"}, "crop_foreground": False,
        "splits": splits}), 3, [16, 16, 8]


# the MSD layout runs the same chain as the msd-3d profile, through DVC to a release, in
# tests/e2e/test_profiles.py (its NIfTI predict and subgroup reasons included)
@pytest.fixture(scope="module", params=["image_folder"])
def chain(request, tmp_path_factory) -> tuple[Path, int, dict]:
    """The chain run once per data kind: its folder, the spatial dimensions and ``vnv.json``'s content."""
    root = tmp_path_factory.mktemp(request.param)
    preprocess, dims, patch = _source(root, request.param)
    return root, dims, run_chain(root, preprocess, dims, patch)


def test_data_without_subgroup_attributes_is_verified_and_judged_honestly(chain):
    tmp_path, dims, out = chain
    record = load_vnv(tmp_path / "vnv.json")  # what the trace site and the technical file read
    plan = load_plan(PLAN)
    assert set(record.criteria) == {c.id for c in plan.criteria}
    assert all(r.status in ("PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE") for r in record.criteria.values())
    for criterion in plan.criteria:
        result = out["criteria"][criterion.id]
        if criterion.subgroup is not None:
            attribute = SUBGROUP_ATTRIBUTE[criterion.subgroup.by]
            assert result["status"] == "NOT APPLICABLE", criterion.id
            for model in result["models"].values():
                assert model["reason"] == ("not applicable: the data source of the test split does not "
                                           f"record the attribute {attribute}")
    volume = {out["criteria"][c.id]["status"] for c in plan.criteria if c.metric == "abs_volume_error_ml"}
    assert volume == {"NOT APPLICABLE"} if dims == 2 else "NOT APPLICABLE" not in volume  # a 2D image has no volume
    # NOT APPLICABLE is neither passed nor failed, and no subgroup is summarised that no case has
    not_applicable = {cid for cid, r in out["criteria"].items() if r["status"] == "NOT APPLICABLE"}
    assert not not_applicable & set(out["passed"] + out["failed"] + out["inconclusive"])
    assert all(levels == {} for model in out["subgroups"].values() for levels in model.values())
    assert out["test_split"]["sites"] == []
    # the evidence: one PNG per representative case, each with its sanity metric
    assert out["evidence"] and all((tmp_path / "reports" / e["file"]).is_file() for e in out["evidence"])
    assert all(e["slices"] == [] for e in out["evidence"]) if dims == 2 else all(e["slices"] for e in out["evidence"])
    with Image.open(tmp_path / "reports" / out["evidence"][0]["file"]) as png:
        assert png.width > 300


@pytest.mark.verifies("SRS-EXPORT-003")
def test_predict_runs_the_released_file_on_the_input_type_of_the_data(chain):
    """A PNG in gives a PNG mask of the image's size (2D), a NIfTI volume a NIfTI mask on its grid (MSD)."""
    root, dims, out = chain
    model = next(released_file(root / "release", role) for role in ("compressed", "teacher")
                 if released_file(root / "release", role).is_file())
    if dims == 2:
        image, mask = root / "folder" / "image" / "0.png", root / "mask.png"
    else:
        image, mask = root / "Task00_Tiny" / "imagesTr" / "tiny_000.nii.gz", root / "mask.nii.gz"
    assert main(["predict", str(model), str(image), str(mask), "--threads", "1"]) == 0
    if dims == 2:
        with Image.open(image) as given, Image.open(mask) as written:
            assert written.size == given.size and written.mode == "L"
            assert set(np.unique(np.asarray(written))) <= {0, 255}
    else:
        given, written = nib.load(image), nib.load(mask)
        assert written.shape == given.shape and np.allclose(written.affine, given.affine, atol=1e-5)
        assert set(np.unique(np.asarray(written.dataobj))) <= {0, 1}
    report = json.loads((root / "mask.json").read_text())  # the lesion report beside the mask
    assert len(report["input"]["shape"]) == dims
