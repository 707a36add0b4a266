"""The preprocess stage's records: the splits, the data-set fingerprint and the cache index.

``data/splits.json`` is read by every stage that loads cases (train, compress, export, verify,
through ``pipeline.data.cache.load_cases``) and by the technical file; ``metrics/fingerprint.json``
by export (the acquisition ranges a model file carries) and the technical file; the cache's
``index.json`` by ``pipeline.data.cache`` (train, compress, export, verify).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pipeline.core.records import RecordModel, load_record
from pipeline.runtime.spec import Normalisation

SplitName = Literal["train", "val", "test", "external"]


class SplitCase(RecordModel):
    """One case of a split: its patient, the SHA-256 of its cached arrays, its stratum."""

    case_id: str
    patient_id: str
    sha256: str
    stratum: str


class SplitCount(RecordModel):
    """Cases and patients of one split."""

    cases: int
    patients: int


class SplitsRecord(RecordModel):
    """Patient-level splits (``pipeline.preprocess.splits``): how they were cut and what is in each."""

    seed: int
    stratify_by: Literal["site", "manufacturer", "none"]
    val_fraction: float
    test_fraction: float
    external_sites: list[str]
    locked: list[SplitName]  # only V&V may load these (pipeline.data.cache.load_cases)
    splits: dict[SplitName, list[SplitCase]]
    counts: dict[SplitName, SplitCount]

    def cases(self, name: str) -> list[SplitCase]:
        """The cases of split ``name`` (none when the record has no such split)."""
        return list(self.splits.get(name, []))  # type: ignore[call-overload]

    def sha256(self, name: str, case_id: str) -> str:
        """The recorded SHA-256 of one case of split ``name``."""
        return next(c.sha256 for c in self.cases(name) if c.case_id == case_id)


class IntensitySummary(RecordModel):
    """Foreground intensities: mean, standard deviation, percentiles (None: no foreground voxel)."""

    mean: float | None
    std: float | None
    p00_5: float | None
    p50: float | None
    p99_5: float | None


class FingerprintSummary(RecordModel):
    """Sizes, spacings, label volumes and intensities of a group of cases, as read (before resampling)."""

    cases: int
    patients: int
    shape_min: list[int]
    shape_median: list[float]
    shape_max: list[int]
    spacing_min: list[float]
    spacing_median: list[float]
    spacing_max: list[float]
    label_ml_min: float
    label_ml_median: float
    label_ml_max: float
    empty_labels: int
    foreground_intensity: IntensitySummary
    manufacturers: list[str]


class ClassCount(RecordModel):
    """One class of the label map over all cases, as read: its voxels and the cases holding it."""

    voxels: int
    cases: int  # cases with at least one voxel of the class


class Fingerprint(RecordModel):
    """The data-set fingerprint (``pipeline.preprocess.fingerprint``): overall and per site."""

    all: FingerprintSummary
    per_site: dict[str, FingerprintSummary]  # site name -> its summary
    classes: dict[str, ClassCount] = {}  # class name -> its count, in class-index order (1..N)
    unmapped_values: list[str] = []  # source label values (SEG segment labels) in no class: read as background
    bad_cases: int  # cases that could not be read (named in the cache index)


class IndexedCase(RecordModel):
    """One cached case: its PHI-free attributes, the cached arrays' SHA-256, geometry before and after."""

    case_id: str
    patient_id: str
    site: str
    manufacturer: str
    sex: str
    age: int | None
    sha256: str
    shape: list[int]
    spacing: list[float]
    affine: list[list[float]]
    original_shape: list[int]
    original_spacing: list[float]
    foreground_voxels: int  # voxels of any class (> 0)
    class_voxels: dict[str, int] = {}  # class name -> its voxels, after preprocessing
    unrecorded: list[str] = []  # attributes the source format does not carry (absent from DICOM caches)


class BadCase(RecordModel):
    """A case that could not be read, by name and reason."""

    name: str
    reason: str


class CacheIndex(RecordModel):
    """The preprocessed cache's ``index.json``: the geometry every case was brought to, and the cases."""

    spatial_dims: Literal[2, 3]
    classes: list[str] = Field(min_length=1)  # foreground class names by index 1..N (preprocess.source.classes)
    target_spacing_mm: list[float]
    orientation: str
    normalisation: Normalisation
    cases: dict[str, IndexedCase]  # case ID -> its entry
    bad_cases: list[BadCase]


def load_splits(path: Path) -> SplitsRecord:
    """Parse ``data/splits.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, SplitsRecord, "patient-level splits", "preprocess")


def load_fingerprint(path: Path) -> Fingerprint:
    """Parse ``metrics/fingerprint.json``; ``UserError`` naming the file and the bad field."""
    return load_record(path, Fingerprint, "data-set fingerprint", "preprocess")


def load_cache_index(path: Path) -> CacheIndex:
    """Parse the cache's ``index.json`` (the file, not the folder)."""
    return load_record(path, CacheIndex, "preprocessed cache index", "preprocess")
