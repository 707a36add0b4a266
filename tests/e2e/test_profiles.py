"""End to end on data that is not the demo cohort: the shipped ``msd-3d`` and ``isbi-2d`` profiles,
each on data generated into its folder (an MSD-layout NIfTI task; 2D PNG sections with masks),
selected with ``python -m pipeline profile`` and run with the arguments ``make repro PROFILE=NAME``
gives DVC. The MSD task is multi-class (an organ, label 1, with a lesion inside it, label 2, as the
profile's liver and tumour): its release has three outputs, per-class metrics and per-class criteria. The cohort and de-identification stages are skipped, every later stage runs, and the
release (site, technical file, manifest) describes this data: no traceback, every criterion of
the profile's V&V plan judged, predict runs on the data's own file type through the release.

Only sizes are made tiny (a profile of its own on top of the shipped profile's settings)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.export.metadata import read_metadata
from pipeline.governance.manifest import load_manifest
from pipeline.params import repo_paths
from pipeline.preprocess.records import load_fingerprint
from pipeline.runtime.model import ROLES, released_file
from pipeline.verify.plan import load_plan
from pipeline.verify.record import load_vnv
from tests.data.msd_task import make_msd_task
from tests.data.tiny import make_image_folder
from tests.e2e.repo_copy import ROOT, commit, copy_repository, run

pytestmark = [pytest.mark.slow]

CASES = 10
TINY = {  # sizes only: every other setting is the shipped profile's or the base's
    "train.epochs": 2, "train.cases_per_batch": 2, "train.patches_per_case": 1,
    "train.network.channels": [4, 8, 16], "train.network.strides": [2, 2],
    "compress.candidates": [{"name": "slim_distilled", "method": "distill", "epochs": 1,
                             "network": {"channels": [2, 4, 8], "strides": [2, 2], "num_res_units": 1}}],
    "compress.quantize.calibration_cases": 1, "compress.latency_repeats": 2, "compress.bootstrap_samples": 100,
    "export.latency_repeats": 2, "verify.bootstrap_samples": 100,
}
PATCH = {"msd-3d": [16, 16, 8], "isbi-2d": [32, 32]}


def _sections(folder: Path) -> Path:
    """PNG sections with masks where the structure is black (0), as the ISBI labels mark membranes."""
    make_image_folder(folder, count=CASES, size=48)
    for mask in (folder / "label").glob("*.png"):
        with Image.open(mask) as image:
            inverted = 255 - np.asarray(image)
        Image.fromarray(inverted.astype(np.uint8)).save(mask)
    return folder


@pytest.fixture(scope="module", params=["msd-3d", "isbi-2d"])
def profile_run(request, tmp_path_factory) -> tuple[Path, str, str]:
    """The repository copy after the profile's run, the profile and everything the run printed."""
    name = request.param
    repo = copy_repository(tmp_path_factory.mktemp(name) / "repo", (ROOT / "params.yaml").read_text())
    shipped = yaml.safe_load((repo / "profiles" / f"{name}.yaml").read_text())
    source = dict(shipped["settings"]["preprocess.source"])
    if name == "msd-3d":
        make_msd_task(repo / source["path"], count=CASES, lesion=True)
    else:  # the shared ISBI images are not part of the repository: sections of the same layout
        source["path"] = str(_sections(repo / "data" / "sections").relative_to(repo))
    settings = {**shipped["settings"], **TINY, "preprocess.source": source, "train.patch_size": PATCH[name]}
    (repo / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(
        {**shipped, "description": f"{name} at test sizes", "settings": settings}, sort_keys=False))
    commit(repo, "the tiny profile")
    printed = []
    for args in (["-m", "pipeline", "profile", "tiny"], ["-m", "pipeline", "profile", "--repro-args"]):
        done = run(repo, "python", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        printed.append(done.stdout + done.stderr)
    repro_args = printed[-1].split()
    assert repro_args == ["--downstream", "preprocess"]
    done = run(repo, "dvc", "repro", *repro_args)
    printed.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return repo, name, "\n".join(printed)


@pytest.mark.verifies("SRS-PLAT-005", "SRS-DATA-006", "SRS-VNV-002", "SRS-DATA-010")
def test_the_profile_reaches_a_complete_release_of_its_own_data(profile_run):
    repo, name, printed = profile_run
    assert "Traceback" not in printed
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for stage in stages:
        assert (f"Running stage '{stage}'" in printed) is (stage not in ("cohort", "deid")), stage
    assert not (repo / "data" / "raw").exists() and not (repo / "data" / "deid").exists()  # nothing generated
    paths = repo_paths(repo)
    released = {entry.path for entry in load_manifest(repo / paths.manifest).files}
    for expected in ("models/teacher.onnx", "trace/index.html", "techfile/technical_file.html",
                     "techfile/technical_file.pdf", "techfile/sbom.cdx.json"):
        assert any(path.endswith(expected) for path in released), expected
    # the numbers are this data's: ten cases, no site, read from the profile's folder
    assert load_fingerprint(repo / paths.fingerprint).all.cases == CASES
    vnv = load_vnv(repo / paths.vnv_metrics)
    assert vnv.test_split.sites == []
    plan_file = yaml.safe_load((repo / "params.yaml").read_text())["verify"]["plan"]
    assert set(vnv.criteria) == {c.id for c in load_plan(repo / plan_file).criteria}  # the profile's own plan
    for cid, result in vnv.criteria.items():  # every criterion judged, the not-judged ones with a reason
        assert result.status in ("PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"), cid
        if result.status in ("INCONCLUSIVE", "NOT APPLICABLE"):
            assert all(model.reason for model in result.models.values()), cid
    if name == "msd-3d":  # the default criteria and one per class: subgroups cannot be answered by NIfTI files
        assert plan_file == "verification/plans/msd-3d.yaml"
        assert vnv.criteria["VAL-012"].status == "NOT APPLICABLE"
        assert {m.reason for m in vnv.criteria["VAL-012"].models.values()} == {
            "not applicable: the data source of the test split does not record the attribute sex"}
        assert vnv.classes == ["liver", "tumour"] and set(vnv.summary_per_class["teacher"]) == {"liver", "tumour"}
        for cid, name_ in (("VAL-019", "liver"), ("VAL-020", "tumour")):  # per-class criteria judged on their class
            judged = vnv.criteria[cid]
            assert judged.class_name == name_ and judged.models["teacher"].status in ("PASS", "FAIL"), cid
            assert judged.models["teacher"].value == pytest.approx(vnv.summary_per_class["teacher"][name_].dice.mean)
        labels = json.loads(read_metadata(released_file(repo / paths.models, "teacher"))["label_map"])
        assert labels == {"0": "background", "1": "liver", "2": "tumour"}
        fingerprint = load_fingerprint(repo / paths.fingerprint)
        assert list(fingerprint.classes) == ["liver", "tumour"] and fingerprint.classes["tumour"].cases == CASES
    else:  # its own plan leaves out what 2D sections cannot answer
        assert plan_file == "verification/plans/isbi-2d.yaml"
        assert not {"VAL-008", "VAL-010", "VAL-018"} & set(vnv.criteria)
    html = (repo / paths.techfile / "technical_file.html").read_text()
    source = yaml.safe_load((repo / "params.yaml").read_text())["preprocess"]["source"]["path"]
    assert source in html and "not part of this profile's run" in html.lower().replace("&#39;", "'")
    pages = "".join(p.read_text() for p in (repo / paths.trace_site).rglob("*.html"))
    assert "not part of this run" in pages
    # the trace gate runs on it too: it names its problems in lines (approvals at least), no traceback,
    # and no review record of the default plan is called dangling while the profile's plan is active
    check = run(repo, "python", "-m", "pipeline", "trace", "check")
    assert check.returncode == 1 and "Traceback" not in check.stdout + check.stderr
    assert "unknown-id" not in check.stdout


@pytest.mark.verifies("SRS-EXPORT-003")
def test_predict_runs_the_release_on_the_datas_own_file_type(profile_run, tmp_path):
    """A NIfTI volume in gives a NIfTI mask on its grid (MSD), a PNG section a PNG mask of its size (2D)."""
    repo, name, _ = profile_run
    release = repo / repo_paths(repo).models
    model = next(released_file(release, role) for role in reversed(ROLES) if released_file(release, role).is_file())
    source = repo / yaml.safe_load((repo / "params.yaml").read_text())["preprocess"]["source"]["path"]
    image = source / "imagesTr" / "tiny_000.nii.gz" if name == "msd-3d" else source / "image" / "0.png"
    mask = tmp_path / ("mask.nii.gz" if name == "msd-3d" else "mask.png")
    done = run(repo, "python", "-m", "pipeline", "predict", str(model), str(image), str(mask), "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    if name == "msd-3d":
        given, written = nib.load(image), nib.load(mask)
        assert written.shape == given.shape and np.allclose(written.affine, given.affine, atol=1e-5)
        assert set(np.unique(np.asarray(written.dataobj))) <= {0, 1, 2}  # liver 1, tumour 2
        shape = list(given.shape)
    else:
        with Image.open(image) as given, Image.open(mask) as written:
            assert written.size == given.size and written.mode == "L"
            assert set(np.unique(np.asarray(written))) <= {0, 255}
            shape = [given.height, given.width]
    report = json.loads((tmp_path / "mask.json").read_text())
    assert len(report["input"]["shape"]) == len(shape)
    if name == "msd-3d":  # the lesion report counts each class apart
        assert {"liver", "tumour"} <= set(json.dumps(report).replace('"', " ").split())
