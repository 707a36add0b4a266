"""The ``techfile`` section of ``params.yaml``: where the evidence is read and the book written."""

from __future__ import annotations

from pydantic import Field

from pipeline.core.params_base import StrictModel


class TechfileInputs(StrictModel):
    """The recorded evidence the technical file is rendered from (paths from the repo root)."""

    vnv: str = "metrics/vnv.json"
    train: str = "metrics/train.json"
    train_curve: str = "metrics/train_curve.csv"
    compress: str = "metrics/compress.json"
    export: str = "metrics/export.json"
    fingerprint: str = "metrics/fingerprint.json"
    splits: str = "data/splits.json"
    deid: str = "metrics/deid.json"
    cohort: str = "metrics/cohort.json"
    junit: str = "reports/junit.xml"
    mlflow_db: str = "mlflow.db"
    dvc_yaml: str = "dvc.yaml"
    dvc_lock: str = "dvc.lock"
    lock_file: str = "requirements.lock"
    pyproject: str = "pyproject.toml"


class TechfileParams(StrictModel):
    """Product identity, inputs and outputs of the technical file."""

    product_name: str = Field(min_length=1, max_length=120)
    manufacturer: str = Field(min_length=1, max_length=120)
    out: str = Field("release/techfile", min_length=1, description="HTML book, PDF and SBOM")
    manifest: str = Field("release/manifest.json", min_length=1)
    release_dir: str = Field("release", min_length=1, description="every file here is in the manifest")
    inputs: TechfileInputs = Field(default_factory=TechfileInputs)
