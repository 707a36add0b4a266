"""``python -m pipeline profile NAME``: params.yaml for a data profile, validated before it is written,
comments kept, and the demo base restored byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.core.errors import UserError
from pipeline.params import validate_params
from pipeline.profile.overlay import BASE_FILE, active_profile, parse_profile, repro_args, switch

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml") if p.name != BASE_FILE)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of the repository's params.yaml (the demo base) and shipped profiles."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profiles").mkdir()
    for name in SHIPPED:
        shutil.copy(ROOT / "profiles" / f"{name}.yaml", tmp_path / "profiles" / f"{name}.yaml")
    return tmp_path


def _profile(repo: Path, *args: str) -> int:
    return main(["--params", str(repo / "params.yaml"), "profile", *args])


def _texts(repo: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in (repo / "profiles").glob("*.yaml") if p.name != BASE_FILE}


@pytest.mark.verifies("SRS-PLAT-001", "SRS-PLAT-005")
def test_switching_back_to_the_demo_restores_params_yaml_byte_for_byte(repo):
    original = (repo / "params.yaml").read_bytes()
    assert _profile(repo, "isbi-2d") == 0
    assert (repo / "params.yaml").read_bytes() != original
    assert (repo / "profiles" / BASE_FILE).read_bytes() == original  # the base, kept verbatim
    assert _profile(repo, "msd-3d") == 0  # from one profile to another: applied to the base, not on top
    assert _profile(repo, "demo") == 0
    assert (repo / "params.yaml").read_bytes() == original
    assert not (repo / "profiles" / BASE_FILE).exists()


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_gives_a_valid_params_yaml(name):
    base = (ROOT / "params.yaml").read_text()
    if active_profile(base) is not None:
        pytest.skip("the repository's params.yaml is a profile's, not the base")
    result = switch(base, None, {n: (ROOT / "profiles" / f"{n}.yaml").read_text() for n in SHIPPED}, name)
    params = validate_params(yaml.safe_load(result.params_text))
    profile = parse_profile((ROOT / "profiles" / f"{name}.yaml").read_text(), name)[0]
    if name == "isbi-2d":
        assert params.train.network.spatial_dims == 2 and len(params.train.patch_size) == 2
        assert params.preprocess.source.format == "image_folder" and profile.starts_at == "preprocess"
    if name == "demo":
        assert result.params_text == base and result.base_text is None and result.changes == []


@pytest.mark.verifies("SRS-PLAT-001")
def test_comments_are_kept_and_a_set_key_carries_the_profiles_comment(repo):
    _profile(repo, "isbi-2d")
    text = (repo / "params.yaml").read_text()
    assert active_profile(text) == "isbi-2d"
    assert "# Every knob of the pipeline, one section per stage." in text  # the base's comments
    assert "  cohort_metrics: metrics/cohort.json\n" in text
    epochs = next(line for line in text.splitlines() if line.startswith("  epochs:"))
    assert epochs.split("#", 1)[1].strip() == "short schedule for 2 CPU cores"
    assert "teacher still gains with epochs" not in text  # the base's reasons for its own value went with it


@pytest.mark.verifies("SRS-PLAT-001")
def test_an_edit_to_a_profiles_params_yaml_is_never_discarded_silently(repo, capsys):
    _profile(repo, "isbi-2d")
    path = repo / "params.yaml"
    path.write_text(path.read_text().replace("  epochs: 40 ", "  epochs: 41 "))
    assert _profile(repo, "demo") == 2
    err = capsys.readouterr().err
    assert "edited since profile isbi-2d wrote it (train.epochs)" in err and len(err.splitlines()) == 1
    assert "epochs: 41" in path.read_text()
    assert _profile(repo, "demo", "--force") == 0
    assert not (repo / "profiles" / BASE_FILE).exists()


@pytest.mark.verifies("SRS-PLAT-001")
def test_an_invalid_profile_is_refused_before_anything_is_written(repo, capsys):
    original = (repo / "params.yaml").read_bytes()
    (repo / "profiles" / "bad.yaml").write_text("description: bad\nsettings:\n  train.epochs: 0\n")
    assert _profile(repo, "bad") == 2
    assert "train.epochs = 0" in capsys.readouterr().err
    (repo / "profiles" / "typo.yaml").write_text("description: typo\nsettings:\n  trian.epochs: 2\n")
    assert _profile(repo, "typo") == 2
    assert "params.yaml has no trian" in capsys.readouterr().err
    assert _profile(repo, "nosuch") == 2
    assert "no profile 'nosuch'" in capsys.readouterr().err
    assert (repo / "params.yaml").read_bytes() == original and not (repo / "profiles" / BASE_FILE).exists()


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_profile_whose_data_is_not_the_cohort_runs_from_its_entry_stage(repo, capsys):
    assert repro_args(parse_profile(_texts(repo)["demo"], "demo")[0]) == []  # plain dvc repro: unchanged
    _profile(repo, "isbi-2d")
    capsys.readouterr()
    shipped = (ROOT / "dvc.yaml").read_text()
    (repo / "dvc.yaml").write_text(shipped)
    # the images are not there: named before DVC starts, with the setting to check
    assert _profile(repo, "--repro-args") == 2
    err = capsys.readouterr().err
    assert "profile isbi-2d: preprocess.source.path = ../shared/data/isbi2012-membranes does not exist" in err
    (repo / "../shared/data/isbi2012-membranes").mkdir(parents=True, exist_ok=True)
    # a fresh clone: no demo outputs, yet DVC can run preprocess on the images and the documents after it
    assert _profile(repo, "--repro-args") == 0
    assert capsys.readouterr().out.split() == ["--downstream", "preprocess"]
    # a dvc.yaml that declares the skipped stage's output as preprocess's input is refused in one line
    (repo / "dvc.yaml").write_text(shipped.replace("${preprocess.source.path}", "${paths.deid}", 1))
    assert _profile(repo, "--repro-args") == 2
    err = capsys.readouterr().err
    assert "profile isbi-2d skips cohort, deid" in err and "data/deid (deid)" in err and len(err.splitlines()) == 1
    (repo / "data" / "deid").mkdir(parents=True)  # what a demo run left
    assert _profile(repo, "--repro-args") == 0
    with pytest.raises(UserError, match="not dotted params.yaml keys"):
        parse_profile("description: x\nsettings:\n  epochs: 3\n", "x")
