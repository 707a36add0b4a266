"""Team scale on the real services, end to end (marker ``services``).

The identified zone (repository A) starts the services, runs the tiny pipeline up to ``train``
with every stage logged to the MLflow server, commits ``dvc.lock`` and pushes to the ``team``
remote; a teammate's clone (B) pulls and gets the same hashes without any identified data, and
its repro re-runs nothing. Anonymous clients are refused by MLflow and the object store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.services import objectstore, postgres
from pipeline.services.credentials import load_or_create as load_credentials
from pipeline.services.layout import Layout, load_or_create
from tests.e2e.test_pipeline import tiny_params
from tests.services.conftest import ROOT, services_cli, team_env

pytestmark = [pytest.mark.services, pytest.mark.slow]

STAGES = ("cohort", "deid", "preprocess", "train")
IDENTIFIED = ("data/raw", "data/deid_quarantine")
PERSON = "alice"


def small_params() -> dict:
    """The e2e test's tiny params, with a smaller external site and one training epoch."""
    params = tiny_params()
    external = params["cohort"]["external"]
    external["patients_per_site"] = 2
    external["sites"][0].update(rows=40, columns=36, slices=14, pixel_spacing_mm=1.8,
                                slice_thickness_mm=4.0)
    params["train"]["epochs"] = 1
    return params


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=team", "-c",
                           "user.email=team@example.org", *args], check=True,
                          capture_output=True, text=True)


def dvc(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def identified(tmp_path_factory, services_state) -> Path:
    """Repository A: the tracked files of this checkout, tiny params, no dvc.lock, committed."""
    dest = tmp_path_factory.mktemp("team") / "identified"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for name in files.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    (dest / "dvc.lock").unlink(missing_ok=True)  # only the stages run here get recorded
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "team")
    return dest


@pytest.fixture(scope="module")
def up(services_state, identified) -> subprocess.CompletedProcess:
    done = services_cli(services_state, "up", "--user", PERSON, repo=identified)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def pushed(services_state, identified, up) -> dict:
    """Repro up to train against the services, commit, push; the commands' outputs."""
    env = team_env(services_state)
    repro = dvc(identified, env, "repro", "train")
    assert repro.returncode == 0, repro.stdout[-3000:] + repro.stderr[-3000:]
    git(identified, "add", "-A")
    git(identified, "commit", "-qm", "tiny pipeline run")
    push = dvc(identified, env, "push", "-r", "team")
    assert push.returncode == 0, push.stdout[-3000:] + push.stderr[-3000:]
    return {"repro": repro, "push": push}


@pytest.fixture(scope="module")
def teammate(tmp_path_factory, services_state, identified, pushed) -> tuple[Path, dict]:
    """Repository B: a fresh clone of A that pulled from the team remote, first with plain
    ``dvc pull -r team``, then with ``make team-pull``'s command."""
    dest = tmp_path_factory.mktemp("team") / "teammate"
    subprocess.run(["git", "clone", "-q", str(identified), str(dest)], check=True)
    env = team_env(services_state)
    plain = dvc(dest, env, "pull", "-r", "team")
    pull = subprocess.run([sys.executable, "-m", "pipeline.services", "pull"], cwd=dest, env=env,
                          capture_output=True, text=True, timeout=300)
    return dest, {"plain": plain, "pull": pull}


def admin_s3(state: Path):
    layout = Layout(state)
    return objectstore.client(load_or_create(layout), load_credentials(layout.credentials).s3_admin)


def bucket_objects(client, bucket: str) -> dict[str, bytes]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def locked_outs(repo: Path) -> dict[str, str]:
    """``path -> md5`` of every stage output in ``dvc.lock``."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values()
            for out in stage.get("outs", [])}


def object_md5s(repo: Path, md5: str) -> set[str]:
    """The md5 of an output and, for a folder, of every file in it (from A's cache)."""
    found = {md5.removesuffix(".dir")}
    if md5.endswith(".dir"):
        listing = repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
        found |= {entry["md5"] for entry in json.loads(listing.read_text())}
    return found


def tree_hash(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


@pytest.mark.verifies("SRS-TEAM-001")
def test_up_starts_every_service_and_writes_the_env(services_state, up):
    out = up.stdout
    for line in ("postgres: initialised and started", "seaweedfs: started", "mlflow: started",
                 "dvc: remote 'team' -> s3://pipeline-dvc", "never pushed"):
        assert line in out, out
    layout = Layout(services_state)
    assert oct(layout.env.stat().st_mode & 0o777) == "0o600"
    env = team_env(services_state)
    assert env["MLFLOW_TRACKING_USERNAME"] == PERSON and env["MLFLOW_TRACKING_URI"].startswith(
        "http://127.0.0.1:")
    again = services_cli(services_state, "up", repo=ROOT.parent / "nowhere")
    assert again.returncode == 2 and "dvc.yaml" in again.stderr  # a repo without dvc.yaml


@pytest.mark.verifies("SRS-TEAM-001", "SRS-PLAT-003")
def test_every_stage_run_is_in_the_postgresql_store(services_state, identified, pushed):
    layout = Layout(services_state)
    config, creds = load_or_create(layout), load_credentials(layout.credentials)
    import psycopg

    with psycopg.connect(host=config.host, port=config.ports.postgres, user=postgres.ROLE,
                         password=creds.postgres_mlflow, dbname="mlflow") as conn:
        rows = conn.execute(
            "SELECT r.name, r.status, r.user_id, t.value FROM runs r JOIN tags t "
            "ON t.run_uuid = r.run_uuid AND t.key = 'stage'").fetchall()
    stages = {name for name, status, _, _ in rows if status == "FINISHED"}
    assert set(STAGES) <= stages, rows
    assert {user for _, _, user, _ in rows} == {PERSON}
    artifacts = admin_s3(services_state).list_objects_v2(Bucket=config.mlflow_bucket)
    assert any(item["Key"].endswith("teacher.pt") for item in artifacts.get("Contents", []))
    assert not (identified / "mlflow.db").exists() and not (identified / "mlartifacts").exists()


@pytest.mark.verifies("SRS-TEAM-001")
def test_the_trace_site_reads_the_runs_from_the_server(services_state, identified, pushed, monkeypatch):
    from pipeline.trace import results

    for key, value in team_env(services_state).items():
        monkeypatch.setenv(key, value)
    runs = results.load_mlflow_runs(identified / "mlflow.db")  # no such file: the server's runs
    assert set(STAGES) <= set(runs), runs
    assert all(run.status == "FINISHED" for run in runs.values())


@pytest.mark.verifies("SRS-TEAM-002")
def test_push_leaves_no_identified_object_and_no_key_in_the_store(services_state, identified,
                                                                   pushed):
    objects = bucket_objects(admin_s3(services_state), "pipeline-dvc")
    stored = {"".join(key.split("/")[-2:]).removesuffix(".dir") for key in objects
              if key.startswith("files/md5/")}
    outs = locked_outs(identified)
    for path in IDENTIFIED:
        assert (identified / path).exists(), path
        assert not object_md5s(identified, outs[path]) & stored, path
    assert object_md5s(identified, outs["data/deid"]) <= stored  # shareable data was pushed
    key = (identified / ".secrets/deid.key").read_bytes().strip()
    everything = {**objects, **bucket_objects(admin_s3(services_state), "pipeline-mlflow")}
    assert len(key) >= 32 and not [name for name, body in everything.items() if key in body]


@pytest.mark.verifies("SRS-TEAM-004")
def test_teammate_pull_restores_the_same_hashes_without_identified_data(identified, teammate):
    repo, pulls = teammate
    tool = pulls["pull"]
    assert tool.returncode == 0, tool.stdout[-3000:] + tool.stderr[-3000:]
    # plain `dvc pull -r team` restores the same files and fails only on the identified outputs
    plain = pulls["plain"]
    failed = plain.stderr.split("Checkout failed for following targets:")[-1]
    failed = {line.strip() for line in failed.split("Is your cache")[0].splitlines()
              if line.strip()}
    recorded = set(locked_outs(identified))  # (stages after train have not run here)
    assert plain.returncode == 1 and failed & recorded == set(IDENTIFIED), plain.stderr[-2000:]
    for path in locked_outs(identified):
        if path in IDENTIFIED:
            assert not (repo / path).exists(), path
        else:
            assert tree_hash(repo / path) == tree_hash(identified / path), path
    assert not (repo / ".secrets").exists()


@pytest.mark.verifies("SRS-TEAM-004")
def test_teammate_make_repro_reruns_nothing(services_state, identified, teammate):
    repo, _ = teammate
    planned = subprocess.run(["make", "-n", "repro"], cwd=repo, capture_output=True, text=True)
    line = next(l for l in planned.stdout.splitlines() if "dvc repro" in l)
    assert "dvc repro --allow-missing" in line, line  # then the active profile's arguments (none: the demo)
    in_zone = subprocess.run(["make", "-n", "repro"], cwd=identified, capture_output=True,
                             text=True)
    assert "--allow-missing" not in in_zone.stdout
    lock = (repo / "dvc.lock").read_bytes()
    again = dvc(repo, team_env(services_state), "repro", "--allow-missing", "train")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Running stage" not in again.stdout, again.stdout
    assert (repo / "dvc.lock").read_bytes() == lock


@pytest.mark.verifies("SRS-TEAM-003")
def test_unauthenticated_clients_are_refused(services_state, up):
    import botocore.exceptions
    import requests

    layout = Layout(services_state)
    config, creds = load_or_create(layout), load_credentials(layout.credentials)
    create = config.mlflow_uri + "/api/2.0/mlflow/runs/create"
    assert requests.post(create, json={"experiment_id": "1"}, timeout=10).status_code == 401
    wrong = requests.post(create, json={"experiment_id": "1"}, auth=(PERSON, "wrong"), timeout=10)
    assert wrong.status_code == 401
    anonymous = objectstore.client(config, None)
    for call in (lambda: anonymous.list_objects_v2(Bucket=config.dvc_bucket),
                 lambda: anonymous.get_object(Bucket=config.dvc_bucket, Key="files/md5/00/x"),
                 lambda: anonymous.put_object(Bucket=config.dvc_bucket, Key="x", Body=b"x")):
        with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
            call()
    person = objectstore.client(config, creds.people[PERSON].s3)
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        person.list_objects_v2(Bucket=config.mlflow_bucket)  # artifacts only through MLflow
    filer = f"http://{config.host}:{config.ports.filer}/buckets/{config.dvc_bucket}/"
    assert requests.get(filer, timeout=10).status_code == 401


@pytest.mark.verifies("SRS-TEAM-001")
def test_up_again_is_a_no_op_and_down_stops_everything(services_state, identified, teammate):
    again = services_cli(services_state, "up", repo=identified)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already running") == 3, again.stdout
    down = services_cli(services_state, "down")
    assert down.returncode == 0 and down.stdout.count(": stopped") == 3, down.stdout
    status = services_cli(services_state, "status")
    assert status.returncode == 1 and "running" not in status.stdout.replace("stopped", "")
    import socket

    ports = load_or_create(Layout(services_state)).ports.model_dump()
    for name, port in ports.items():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{name} still listens on {port}"
