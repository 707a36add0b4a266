"""The stage-command shape (``pipeline.command``): paths from ``params.yaml``, options override
them, inputs checked before work, one MLflow run, and ``dvc.yaml``'s templating resolved the way
DVC resolves it (``pipeline.core.dvc_yaml``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from pipeline.command import StageCommand
from pipeline.core.dvc_yaml import read_pipeline, resolve
from pipeline.core.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


def _command(seen: list) -> StageCommand:
    return StageCommand(
        name="demo", help="a demo stage",
        paths={"cache": ("cache", "input"), "metrics": ("train_metrics", "output")},
        inputs=("cache",), missing="run the preprocess stage first",
        core=lambda inv: seen.append(inv) or {"n": 1},
        summary=lambda inv, result: f"demo: {result['n']} in {inv.seconds} s")


def _run(command: StageCommand, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default=None)
    sub = parser.add_subparsers()
    command.register(sub)
    args = parser.parse_args(["--params", str(ROOT / "params.yaml"), *argv])
    return args.func(args)


@pytest.mark.verifies("SRS-PLAT-001")
def test_paths_come_from_params_yaml_and_options_override_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    Path(params["paths"]["cache"]).mkdir(parents=True)
    seen: list = []
    assert _run(_command(seen), ["demo", "--no-mlflow"]) == 0
    assert seen[-1].paths.cache == Path(params["paths"]["cache"])
    assert seen[-1].paths.metrics == Path(params["paths"]["train_metrics"])
    assert capsys.readouterr().out.startswith("demo: 1 in ")
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert _run(_command(seen), ["demo", "--no-mlflow", "--cache", str(other)]) == 0
    assert seen[-1].paths.cache == other


@pytest.mark.verifies("SRS-PLAT-001")
def test_a_missing_input_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen: list = []
    with pytest.raises(UserError, match="run the preprocess stage first"):
        _run(_command(seen), ["demo", "--no-mlflow"])
    assert seen == []


@pytest.mark.verifies("SRS-PLAT-003")
def test_the_stage_run_is_recorded_with_its_seconds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    Path(yaml.safe_load((ROOT / "params.yaml").read_text())["paths"]["cache"]).mkdir(parents=True)
    assert _run(_command([]), ["demo"]) == 0
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # the stage's store, not a global one
    runs = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    assert [r.data.tags["stage"] for r in runs] == ["demo"]
    assert "seconds" in runs[0].data.metrics


@pytest.mark.verifies("SRS-PLAT-005")
def test_dvc_yaml_references_resolve_to_params_values():
    stages = read_pipeline(ROOT / "dvc.yaml")["stages"]
    paths = yaml.safe_load((ROOT / "params.yaml").read_text())["paths"]
    assert paths["teacher"] in stages["train"]["outs"]
    assert paths["raw"] in {key for entry in stages["cohort"]["outs"] if isinstance(entry, dict) for key in entry}
    assert "${" not in yaml.safe_dump(stages)


@pytest.mark.verifies("SRS-PLAT-005")
def test_unsupported_templating_is_refused_not_misread():
    with pytest.raises(UserError, match="not in params.yaml"):
        resolve({"cmd": "x ${paths.nope}"}, {"paths": {}})
    with pytest.raises(UserError, match="not a single value"):
        resolve({"cmd": "x ${paths}"}, {"paths": {"a": "b"}})
    with pytest.raises(UserError, match="not a plain params.yaml reference"):
        resolve({"cmd": "x ${a + b}"}, {})


@pytest.mark.verifies("SRS-PLAT-005")
def test_a_params_edit_while_the_stage_runs_stops_the_command_before_dvc_records_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params_path = tmp_path / "params.yaml"
    params_path.write_text((ROOT / "params.yaml").read_text())
    params = yaml.safe_load(params_path.read_text())
    Path(params["paths"]["cache"]).mkdir(parents=True)

    def edit_during_the_run(inv):
        params_path.write_text(params_path.read_text() + "\n# edited while the stage ran\n")
        return {"n": 1}

    command = StageCommand(name="demo", help="a demo stage", paths={"cache": ("cache", "input")},
                           inputs=("cache",), core=edit_during_the_run, summary=lambda inv, result: "")
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", default=None)
    command.register(parser.add_subparsers())
    args = parser.parse_args(["--params", str(params_path), "demo", "--no-mlflow"])
    with pytest.raises(UserError, match="changed while the stage ran: .*params.yaml"):
        args.func(args)


@pytest.mark.verifies("SRS-PLAT-005")
def test_the_source_guard_names_changed_added_and_removed_code(tmp_path):
    from pipeline.core import source_guard

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("A = 1\n")
    (package / "b.py").write_text("B = 1\n")
    params_path = tmp_path / "params.yaml"
    params_path.write_text("x: 1\n")
    before = source_guard.snapshot(params_path, package)
    source_guard.check_unchanged(before, params_path, package)  # nothing changed: no error
    (package / "a.py").write_text("A = 2\n")
    (package / "b.py").unlink()
    (package / "c.py").write_text("C = 1\n")
    with pytest.raises(UserError) as caught:
        source_guard.check_unchanged(before, params_path, package)
    assert all(name in str(caught.value) for name in ("a.py", "b.py", "c.py"))
    assert "params.yaml" not in str(caught.value)
