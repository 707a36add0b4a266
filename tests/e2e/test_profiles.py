"""End to end on data that is not the demo cohort: the shipped ``msd-3d`` profile, on an MSD-layout
NIfTI task generated into its folder, selected with ``python -m pipeline profile`` and run with
the arguments ``make repro PROFILE=msd-3d`` gives DVC. The cohort and de-identification stages are
skipped, every later stage runs, and the release (site, technical file, manifest) describes this
data: no traceback, every criterion judged, predict runs on a NIfTI volume through the release.

Only sizes are made tiny (a profile of its own on top of ``msd-3d``'s settings)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from pipeline.governance.manifest import load_manifest
from pipeline.params import repo_paths
from pipeline.preprocess.records import load_fingerprint
from pipeline.runtime.model import ROLES, released_file
from pipeline.verify.record import load_vnv
from tests.data.msd_task import make_msd_task
from tests.e2e.repo_copy import ROOT, commit, copy_repository, run

pytestmark = [pytest.mark.slow]

CASES = 10
TINY = {  # sizes only: every other setting is msd-3d's or the base's
    "train.epochs": 2, "train.patch_size": [16, 16, 8], "train.cases_per_batch": 2, "train.patches_per_case": 1,
    "train.network.channels": [4, 8, 16], "train.network.strides": [2, 2],
    "compress.candidates": [{"name": "slim_distilled", "method": "distill", "epochs": 1,
                             "network": {"channels": [2, 4, 8], "strides": [2, 2], "num_res_units": 1}}],
    "compress.quantize.calibration_cases": 1, "compress.latency_repeats": 2, "compress.bootstrap_samples": 100,
    "export.latency_repeats": 2, "verify.bootstrap_samples": 100,
}


@pytest.fixture(scope="module")
def profile_run(tmp_path_factory) -> tuple[Path, str]:
    """The repository copy after the profile's run, and everything the run printed."""
    repo = copy_repository(tmp_path_factory.mktemp("profile") / "repo", (ROOT / "params.yaml").read_text())
    shipped = yaml.safe_load((repo / "profiles" / "msd-3d.yaml").read_text())
    task = repo / shipped["settings"]["preprocess.source"]["path"]
    make_msd_task(task, count=CASES)
    tiny = {**shipped, "description": "msd-3d at test sizes", "settings": {**shipped["settings"], **TINY}}
    (repo / "profiles" / "msd-tiny.yaml").write_text(yaml.safe_dump(tiny, sort_keys=False))
    commit(repo, "the tiny profile")
    printed = []
    for args in (["-m", "pipeline", "profile", "msd-tiny"], ["-m", "pipeline", "profile", "--repro-args"]):
        done = run(repo, "python", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        printed.append(done.stdout + done.stderr)
    repro_args = printed[-1].split()
    assert repro_args == ["--downstream", "preprocess"]
    done = run(repo, "dvc", "repro", *repro_args)
    printed.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return repo, "\n".join(printed)


@pytest.mark.verifies("SRS-PLAT-005", "SRS-DATA-006", "SRS-VNV-002")
def test_the_msd_profile_reaches_a_complete_release_of_its_own_data(profile_run):
    repo, printed = profile_run
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
    # the numbers are this data's: ten NIfTI cases, no site, read from the task folder
    assert load_fingerprint(repo / paths.fingerprint).all.cases == CASES
    vnv = load_vnv(repo / paths.vnv_metrics)
    assert vnv.test_split.sites == []
    for cid, result in vnv.criteria.items():  # every criterion judged, the not-judged ones with a reason
        assert result.status in ("PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"), cid
        if result.status in ("INCONCLUSIVE", "NOT APPLICABLE"):
            assert all(model.reason for model in result.models.values()), cid
    assert any(r.status == "NOT APPLICABLE" for r in vnv.criteria.values())  # the subgroups: no attributes
    html = (repo / paths.techfile / "technical_file.html").read_text()
    assert "data/msd-task" in html and "not part of this profile's run" in html.lower().replace("&#39;", "'")
    site = (repo / paths.trace_site / "index.html").read_text()
    assert "not part of this run" in "".join(p.read_text() for p in (repo / paths.trace_site).rglob("*.html")) \
        and site
    # the trace gate runs on it too: it names its problems (approvals at least) in lines, no traceback
    check = run(repo, "python", "-m", "pipeline", "trace", "check")
    assert check.returncode == 1 and "Traceback" not in check.stdout + check.stderr


@pytest.mark.verifies("SRS-EXPORT-003")
def test_predict_runs_the_msd_release_on_a_nifti_volume(profile_run, tmp_path):
    repo, _ = profile_run
    release = repo / repo_paths(repo).models
    model = next(released_file(release, role) for role in reversed(ROLES) if released_file(release, role).is_file())
    image = repo / "data" / "msd-task" / "imagesTr" / "tiny_000.nii.gz"
    done = run(repo, "python", "-m", "pipeline", "predict", str(model), str(image), str(tmp_path / "mask.nii.gz"),
               "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    given, written = nib.load(image), nib.load(tmp_path / "mask.nii.gz")
    assert written.shape == given.shape and np.allclose(written.affine, given.affine, atol=1e-5)
    assert set(np.unique(np.asarray(written.dataobj))) <= {0, 1}
    assert json.loads((tmp_path / "mask.json").read_text())["input"]["shape"] == list(given.shape)
