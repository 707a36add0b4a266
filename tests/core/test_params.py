"""params.yaml is validated before any work: each kind of bad value gives one clear message."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.params import load_params, validate_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def good() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.mark.verifies("SRS-PLAT-001")
def test_the_committed_params_file_is_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.cohort.patients_per_site * len(params.cohort.sites) >= 24
    assert len({s.manufacturer for s in params.cohort.sites}) >= 3
    assert all(s.rows >= 64 and s.columns >= 64 and s.slices >= 48 for s in params.cohort.sites)


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("cohort", "seed"), -1, "cohort.seed = -1: Input should be greater than or equal to 0"),
        (("cohort", "seed"), "42", "cohort.seed = '42': Input should be a valid integer"),
        (("cohort", "sites", 0, "noise_hu"), 1e6, "cohort.sites.0.noise_hu = 1000000.0: Input should be less than or equal to 200"),
        (("cohort", "sites", 1, "slice_order"), "sideways", "cohort.sites.1.slice_order = 'sideways': Input should be 'feet_first' or 'head_first'"),
        (("cohort", "sites", 0, "rows"), True, "cohort.sites.0.rows = True: Input should be a valid integer"),
        (("cohort", "patients_per_site"), 2.5, "cohort.patients_per_site = 2.5: Input should be a valid integer"),
    ],
)
def test_bad_value_names_key_value_and_what_is_allowed(good, path, value, expected):
    data = copy.deepcopy(good)
    _set(data, path, value)
    with pytest.raises(UserError) as info:
        validate_params(data)
    assert expected in str(info.value)


@pytest.mark.verifies("SRS-PLAT-001")
def test_unknown_key_is_an_error(good):
    good["cohort"]["seeed"] = 1
    with pytest.raises(UserError, match=r"cohort.seeed = 1: unknown key"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001", "SRS-DEID-009")
def test_the_leak_check_cannot_be_switched_off(good):
    good["deid"]["leak_check"]["enabled"] = False
    with pytest.raises(UserError, match=r"deid.leak_check.enabled = False: unknown key"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
def test_unknown_section_is_an_error(good):
    good["trian"] = {"epochs": 3}
    with pytest.raises(UserError, match=r"trian = \{'epochs': 3\}: unknown key"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
def test_missing_key_is_an_error(good):
    del good["cohort"]["seed"]
    with pytest.raises(UserError, match=r"cohort.seed = '<missing>': required key is missing"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
def test_duplicate_site_names_are_an_error(good):
    good["cohort"]["sites"][1]["name"] = good["cohort"]["sites"][0]["name"]
    with pytest.raises(UserError, match="site names must be unique"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
def test_every_problem_is_listed_at_once(good):
    good["cohort"]["seed"] = -5
    good["cohort"]["sites"][0]["rows"] = 1
    with pytest.raises(UserError) as info:
        validate_params(good)
    assert "2 problem(s)" in str(info.value)


@pytest.mark.verifies("SRS-PLAT-001")
def test_not_yaml_is_a_clear_error(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("cohort: [unclosed\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        load_params(bad)


@pytest.mark.verifies("SRS-PLAT-001")
def test_cli_exits_non_zero_with_one_message_and_no_traceback(good, tmp_path):
    good["cohort"]["seed"] = -1
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(good))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "--params", str(bad), "cohort", "--out", str(tmp_path / "o")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "cohort.seed = -1" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.verifies("SRS-PLAT-001")
def test_copies_of_the_parity_gate_must_agree(good):
    good["compress"]["selection"]["parity_atol"] = 1e-3
    with pytest.raises(UserError, match="compress.selection.parity_atol = 0.001 must equal export.parity_atol"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize("mistake", [{"bogus_knob_xyz": 1}, {"trian": {"epochs": 1}}])
def test_check_params_names_an_unknown_key_or_section_even_when_no_stage_would_run(good, tmp_path, mistake):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump({**good, **mistake}))
    done = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(bad), "check-params"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{next(iter(mistake))} = " in done.stderr and "unknown key" in done.stderr
    repro = (ROOT / "Makefile").read_text().split("\nrepro:")[1].split("\n\n")[0]
    assert repro.index("check-params") < repro.index("dvc repro")  # before DVC decides what to run


def _set(data: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@pytest.mark.verifies("SRS-PLAT-001")
def test_the_windows_training_and_compress_measure_with_must_be_the_released_ones(good):
    good["export"]["sw_overlap"] = 0.5
    with pytest.raises(UserError) as info:
        validate_params(good)
    message = str(info.value)
    assert "train.sw_overlap = 0.25 must equal export.sw_overlap = 0.5" in message
    assert "compress.sw_overlap = 0.25 must equal export.sw_overlap = 0.5" in message
    assert "site-a" not in message  # names the keys, not a dump of the whole file
    good["export"]["sw_overlap"] = 0.25
    good["train"]["sw_batch_size"] = 2
    with pytest.raises(UserError, match="train.sw_batch_size = 2 must equal export.sw_batch_size = 4"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
def test_paths_are_required_and_relative(good):
    del good["paths"]["splits"]
    with pytest.raises(UserError, match="paths.splits"):
        validate_params(good)
    good["paths"]["splits"] = "/etc/splits.json"
    with pytest.raises(UserError, match="paths.splits"):
        validate_params(good)


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("path", [("preprocess", "normalisation", "low"), ("preprocess", "target_spacing_mm", 0),
                                  ("train", "learning_rate"), ("verify", "nsd_tolerance_mm")])
def test_nan_and_infinity_are_refused_by_name(good, path, bad):
    data = copy.deepcopy(good)
    _set(data, path, bad)
    with pytest.raises(UserError) as info:
        validate_params(data)
    line = next(line for line in str(info.value).splitlines() if "finite number" in line).strip()
    key = line.split(" = ")[0].split(".")
    assert key[0] == path[0] and key[-1] == str(path[-1]) and f" = {bad!r}:" in line


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path):
    original = (ROOT / "params.yaml").read_text()
    first = next(line for line in original.splitlines() if line.startswith("  epochs: "))  # train's
    value = first.split()[1]
    text = original.replace(first, f"  epochs: {value}\n  epochs: 1", 1)
    path = tmp_path / "params.yaml"
    path.write_text(text)
    line = text.splitlines().index(f"  epochs: {value}") + 1
    with pytest.raises(UserError, match=rf"duplicate key 'epochs' on lines {line} and {line + 1}"):
        load_params(path)


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_section_given_twice_is_named_as_a_section(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    train = text[text.index("\ntrain:\n") + 1:text.index("\ncompress:")]
    path = tmp_path / "params.yaml"
    path.write_text(text + "\n" + train)
    with pytest.raises(UserError, match=r"duplicate section 'train' on lines \d+ and \d+"):
        load_params(path)


@pytest.mark.verifies("SRS-PLAT-001")
@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xfecohort: 1\n", "is not UTF-8 text"),
    (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
])
def test_undecodable_or_absurdly_deep_files_give_one_message(tmp_path, content, message):
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_params(path)


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_folder_as_params_file_is_a_message(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        load_params(tmp_path)


@pytest.mark.verifies("SRS-PLAT-001")
def test_check_params_names_a_missing_vnv_plan_before_any_stage_runs(good, tmp_path):
    """verify reads the plan only after training: a misspelt verify.plan is named up front."""
    (tmp_path / "verification").mkdir()
    (tmp_path / "verification/mine.yaml").write_text("criteria: []\n")
    params = tmp_path / "params.yaml"
    for plan, code in (("verification/mine.yaml", 0), ("verification/mnie.yaml", 2)):
        params.write_text(yaml.safe_dump({**good, "verify": {**good["verify"], "plan": plan}}))
        done = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(params), "check-params"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
    assert "verify.plan = verification/mnie.yaml: no such file" in done.stderr
