"""The services' pure parts, without starting anything: config, credentials, env file, access
rules, the privacy check of dvc.yaml."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import UserError
from pipeline.services import credentials, envfile, objectstore, privacy, tracking_server
from pipeline.services.layout import Layout, check_user_name, choose_ports, load_or_create

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.verifies("SRS-TEAM-002")
def test_identified_outputs_are_never_pushed_in_dvc_yaml():
    assert set(privacy.check_identified_outputs(ROOT / "dvc.yaml")) == {
        "data/raw", "data/deid_quarantine"}
    assert "data/deid" not in privacy.unpushed_outputs(ROOT / "dvc.yaml")


@pytest.mark.verifies("SRS-TEAM-002")
def test_a_pushable_identified_output_is_refused(tmp_path):
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    stages["stages"]["deid"]["outs"] = ["data/deid", "data/deid_quarantine"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stages))
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    with pytest.raises(UserError, match="data/deid_quarantine lack `push: false`"):
        privacy.check_identified_outputs(tmp_path / "dvc.yaml")


@pytest.mark.verifies("SRS-TEAM-004")
def test_shareable_outputs_are_the_locked_ones_less_the_identified(tmp_path):
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "cohort": {"outs": [{"path": "data/raw", "md5": "a.dir"}]},
        "deid": {"outs": [{"path": "data/deid", "md5": "b.dir"},
                          {"path": "data/deid_quarantine", "md5": "c.dir"},
                          {"path": "metrics/deid.json", "md5": "d"}]}}}))
    assert privacy.shareable_outputs(tmp_path) == ["data/deid", "metrics/deid.json"]


@pytest.mark.verifies("SRS-TEAM-003")
def test_object_store_has_no_anonymous_identity_and_people_reach_only_the_dvc_bucket(tmp_path):
    layout = Layout(tmp_path)
    layout.prepare()
    config = load_or_create(layout, "alice")
    creds = credentials.Credentials()
    credentials.add_person(creds, "alice")
    identities = {i["name"]: i for i in objectstore.s3_identities(config, creds)["identities"]}
    assert set(identities) == {"admin", "mlflow-server", "alice"}
    assert all(i["credentials"][0]["accessKey"] for i in identities.values())
    assert identities["alice"]["actions"] == [f"{a}:pipeline-dvc" for a in
                                              ("Read", "Write", "List", "Tagging")]
    assert all(a.endswith(":pipeline-mlflow") for a in identities["mlflow-server"]["actions"])
    toml = objectstore.security_toml(creds)
    for section in ("jwt.signing", "jwt.signing.read", "jwt.filer_signing",
                    "jwt.filer_signing.read"):
        assert f"[{section}]" in toml
    ini = tracking_server.auth_ini(config, creds)
    assert "default_permission = READ" in ini and creds.mlflow_admin in ini


@pytest.mark.verifies("SRS-TEAM-001")
def test_config_and_secrets_are_kept_and_private(tmp_path):
    layout = Layout(tmp_path / "s")
    layout.prepare()
    first = load_or_create(layout, "alice")
    assert load_or_create(layout) == first  # same ports after a restart
    with pytest.raises(UserError, match="set up for 'alice'"):
        load_or_create(layout, "bob")
    creds = credentials.load_or_create(layout.credentials)
    assert credentials.load_or_create(layout.credentials) == creds
    assert stat.S_IMODE(layout.credentials.stat().st_mode) == 0o600
    person = credentials.add_person(creds, "alice")
    envfile.write(layout.env, envfile.variables(first, "alice", person), "alice")
    assert stat.S_IMODE(layout.env.stat().st_mode) == 0o600
    values = envfile.read(layout.env)
    assert values["MLFLOW_TRACKING_PASSWORD"] == person.mlflow_password
    assert values["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{first.ports.s3}"
    assert values["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{first.ports.mlflow}"
    assert creds.mlflow_admin not in layout.env.read_text()  # the admin login stays in credentials


@pytest.mark.verifies("SRS-TEAM-001")
def test_a_busy_preferred_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        chosen = choose_ports({"a": taken, "b": taken})
    assert chosen["a"] != taken and chosen["b"] != taken and chosen["a"] != chosen["b"]


@pytest.mark.verifies("SRS-TEAM-003")
@pytest.mark.parametrize("name", ["admin", "mlflow-server", "A", "x", "a b", "1abc"])
def test_bad_user_names_are_refused(name):
    with pytest.raises(UserError, match="is not allowed"):
        check_user_name(name)


@pytest.mark.verifies("SRS-TEAM-001")
def test_services_cli_reports_a_missing_dvc_yaml_in_one_line(tmp_path):
    from pipeline.services.cli import main

    assert main(["--dir", str(tmp_path / "s"), "--repo", str(tmp_path), "pull"]) == 2
    assert not os.path.exists(tmp_path / "s")
