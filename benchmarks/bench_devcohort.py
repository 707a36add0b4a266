"""The shipped models on generated development cohorts: the paired Dice drop beyond the validation split.

Why. The release chooses its student on the validation split (23 cases in the release of 2026-11-27),
and the best of several candidates on so few cases is an optimistic pick: on 300 generated cases
the shipped student lost +0.0096 Dice against the teacher where validation had said +0.0046. This
benchmark measures the same paired drop on development cohorts generated for it, large enough to
tell a 0.005 from a 0.01 drop.

The development cohort. For each cohort of ``DEV_SEEDS`` the pipeline's own cores run in turn
(``pipeline.cohort.generate.run``, ``pipeline.deid.batch.run``, ``pipeline.preprocess.stage.run``)
with ``params.yaml``'s ``cohort``, ``deid`` and ``preprocess`` sections, only the cohort seeds and
sizes replaced, into ``bench/devcohort/<seed>-<external seed>-<patients per site>/`` (git-ignored).
De-identification uses a throwaway key generated in that folder, never the project's key (file or
``$PIPELINE_DEID_KEY``). The identified and de-identified DICOM are deleted once the cache is
written; the cache, its splits, the stage reports, the key and ``complete.json`` stay. That marker is
written last and atomically, and records the spec and every parameter the cores ran with: a folder
without it (interrupted) or whose parameters differ is rebuilt, a complete one is reused (delete it
after changing the generator's code). About 3 minutes per 100 cases on the 2-core machine.

It is no split of the release: its patients come from other seeds, which must differ from
``params.yaml``'s ``cohort.seed`` and ``cohort.external.seed`` (refused otherwise: those seeds
would regenerate the release's own patients, its locked test and external splits included) and
from each other. Its train/val/test/external splits are its own; every case of every one of them
is evaluated (``load_cases(..., allow_locked=True)`` reads the dev cohort's own "locked" splits).

The models. ``teacher.onnx`` and ``compressed.onnx`` of ``paths.models`` (their bytes checked
against their SHA-256 sidecars), each with its own shipped post-processing from ``paths.choice``
(keys ``teacher`` and ``compressed``: ``foreground_threshold``, ``keep_largest_component``; a file
whose stored preprocessing specification says otherwise is refused). Without ``compressed.onnx``
(the release shipped no compressed model) the candidates are evaluated instead. With
``DEV_CANDIDATES=1`` also every checkpoint of ``paths.candidates``, exported to ONNX into a temporary
folder (``export.opset``, ``export.exporter``), with the post-processing of its FP32
``onnxruntime-cpu`` row of ``paths.compress_metrics``. Every model runs on ONNX Runtime's CPU
provider at ``compress.threads`` through the product's sliding windows
(``pipeline.runtime.sliding.predict_volume``; patch from the teacher checkpoint's config,
``compress.sw_overlap`` and ``compress.sw_batch_size``), then ``pipeline.runtime.postprocess.decide``
(``to_mask`` at its threshold and ``apply``), then ``mean_dice``: the functions the compress stage's
``measure.validation`` composes, with the shipped post-processing applied as shipped rather than
chosen again on these cases (``measure.validation`` decides it anew).

The figures (printed, and written to ``bench/results/devcohort.json`` with every case's Dice). Per
model, the drop is teacher minus model per case (positive: the model is worse): its mean with the 95 %
percentile bootstrap interval of ``pipeline.core.bootstrap.bootstrap_mean``, patients resampled
(clusters ``<cohort>/<patient>``, so patients of two cohorts never merge; ``compress.bootstrap_samples``
and ``compress.seed``), the median, the 10th and 90th percentiles, the mean Dice of both models, the
same per cohort and per site (``InstitutionName``), and the 5 largest drops with their case IDs. Per
model also (VAL-022 and VAL-025 measured here on many cases before a look at the test split):

* ``drift``: the Dice each model loses under ``verify``'s calibration drift
  (``verify.robustness.intensity``: ``scale * x + shift``, clipped to the normalisation's range,
  ``pipeline.verify.perturb.intensity``), clean minus drifted per case: mean with its interval,
  median, 10th and 90th percentiles and the largest loss;
* ``membership``: the loss-threshold attack of ``verify`` (``pipeline.verify.membership_stage.case_loss``
  on the window centred on the structure) with the release's training split as members and every
  development case as non-members: the AUC with its patient-bootstrap interval and both mean losses
  (left out when the release's cache is not there).

They are development evidence for choosing a model, not verification and validation: V&V's figures
come from the release's locked test and external splits (``python -m pipeline verify``).

Options (environment variables: ``python -m benchmarks`` passes no arguments):

``DEV_SEEDS``
    comma-separated cohorts ``seed:external seed:patients per site:external patients per site``;
    default ``99990001:99990002:24:8,99990003:99990004:48:16`` (100 + 200 cases; about 6 minutes of
    generation the first time). External patients per site 0: no external cohort.
``DEV_CANDIDATES``
    ``1``: also every candidate checkpoint.

Usage: ``make bench BENCH=devcohort`` or ``DEV_SEEDS=99990001:99990002:2:1 python -m benchmarks devcohort``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from pipeline.cohort import generate
from pipeline.cohort.params import CohortParams
from pipeline.core.atomic import write_json
from pipeline.core.bootstrap import bootstrap_mean
from pipeline.core.errors import UserError
from pipeline.core.progress import bar, progress
from pipeline.data.cache import LoadedCase, load_cases
from pipeline.deid import batch
from pipeline.deid.keys import create_key_file, read_key_file
from pipeline.deid.params import DeidParams
from pipeline.params import Params, load_params
from pipeline.preprocess import stage
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.records import load_splits
from pipeline.preprocess.splits import SPLITS
from pipeline.runtime import engines, postprocess
from pipeline.runtime.metrics import mean_dice
from pipeline.runtime.model import read_checked, released_file
from pipeline.runtime.sliding import predict_volume
from pipeline.runtime.spec import WindowSpec
from pipeline.verify import membership, membership_stage, perturb

DEFAULT_SEEDS = "99990001:99990002:24:8,99990003:99990004:48:16"
CACHE = Path("bench/devcohort")
OUT = Path("bench/results/devcohort.json")
MARKER = "complete.json"  # written last: a folder without it is rebuilt
DICOM = ("raw", "deid", "deid_quarantine")  # deleted once the cache is written
TEACHER = "teacher"
LARGEST = 5  # largest drops listed per model


@dataclass(frozen=True)
class DevCohort:
    """One development cohort: its two seeds and sizes."""

    seed: int
    external_seed: int
    patients_per_site: int
    external_patients_per_site: int

    @property
    def name(self) -> str:
        """Its cache folder's name (and the prefix of its cases and patients)."""
        return f"{self.seed}-{self.external_seed}-{self.patients_per_site}"


@dataclass(frozen=True)
class PostProcessing:
    """A model's shipped post-processing (what ``pipeline.runtime.postprocess.apply`` reads)."""

    foreground_threshold: float
    keep_largest_component: bool


@dataclass(frozen=True)
class Model:
    """An ONNX model to evaluate: its bytes, its post-processing and where it came from."""

    name: str
    onnx: bytes
    postprocessing: PostProcessing
    source: str

    def record(self) -> dict:
        return {"source": self.source, "sha256": hashlib.sha256(self.onnx).hexdigest(), "bytes": len(self.onnx),
                "postprocessing": asdict(self.postprocessing)}


@dataclass(frozen=True)
class DevCase:
    """One case of a development cohort, keyed ``<cohort>/<case id>``."""

    cohort: str
    split: str
    case: LoadedCase

    @property
    def key(self) -> str:
        return f"{self.cohort}/{self.case.case_id}"

    def info(self) -> dict:
        record = self.case.record
        return {"cohort": self.cohort, "split": self.split, "case_id": record.case_id,
                "patient": record.patient_id, "site": record.site}


# --- options -------------------------------------------------------------------------------------

def parse_cohorts(text: str, release: CohortParams) -> list[DevCohort]:
    """``DEV_SEEDS``' cohorts; ``UserError`` for a malformed one or a seed the release or another cohort uses.

    Args:
        text: ``seed:external seed:patients per site:external patients per site[,...]``.
        release: ``params.yaml``'s ``cohort`` section (its seeds are refused).
    """
    cohorts = []
    for part in text.split(","):
        fields = [f.strip() for f in part.split(":")]
        if len(fields) != 4 or not all(f.isdigit() for f in fields):
            raise UserError(f"DEV_SEEDS: {part.strip()!r} is not seed:external_seed:patients_per_site:"
                            "external_patients_per_site (four whole numbers, e.g. 99990001:99990002:24:8)")
        cohort = DevCohort(*(int(f) for f in fields))
        if cohort.patients_per_site < 1:
            raise UserError(f"DEV_SEEDS: {part.strip()!r}: patients per site must be at least 1")
        if cohort.external_patients_per_site and release.external is None:
            raise UserError(f"DEV_SEEDS: {part.strip()!r}: params.yaml has no cohort.external to take the "
                            "external sites from; give 0 external patients per site")
        cohorts.append(cohort)
    reserved = {release.seed: "cohort.seed", **({release.external.seed: "cohort.external.seed"}
                                                if release.external else {})}
    seen: set[int] = set()
    for cohort in cohorts:
        for seed in (cohort.seed, cohort.external_seed):
            if seed in reserved:
                raise UserError(f"DEV_SEEDS: seed {seed} is params.yaml's {reserved[seed]}: it would regenerate "
                                "the release's own patients (its locked test splits included); choose other seeds")
            if seed in seen:
                raise UserError(f"DEV_SEEDS: seed {seed} is given twice: two cohorts would share patients")
            seen.add(seed)
    return cohorts


def wants_candidates(env: Mapping[str, str]) -> bool:
    """``DEV_CANDIDATES``: ``1`` (or ``true``/``yes``) evaluates the candidate checkpoints too."""
    value = env.get("DEV_CANDIDATES", "").strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no"):
        raise UserError(f"DEV_CANDIDATES={value!r}: use 1 (evaluate the candidate checkpoints too) or 0")
    return value in ("1", "true", "yes")


# --- generation ----------------------------------------------------------------------------------

def dev_params(release: Params, cohort: DevCohort, folder: Path) -> tuple[CohortParams, DeidParams, PreprocessParams]:
    """The release's cohort, deid and preprocess sections for ``cohort`` built in ``folder``: only the
    cohort's seeds and sizes differ (and the folders read, and the key file)."""
    if release.preprocess.source.format != "dicom":
        raise UserError(f"preprocess.source.format is {release.preprocess.source.format!r}: a generated "
                        "development cohort is DICOM, so this benchmark needs the dicom reader's settings")
    data = release.cohort.model_dump()
    data.update(seed=cohort.seed, patients_per_site=cohort.patients_per_site, external=None)
    external_sites = []
    if cohort.external_patients_per_site:
        data["external"] = {**release.cohort.external.model_dump(), "seed": cohort.external_seed,
                            "patients_per_site": cohort.external_patients_per_site}
        external_sites = release.preprocess.splits.external_sites
    deid = release.deid.model_copy(update={"source": str(folder / "raw"), "key_file": str(folder / "deid.key")})
    pre = release.preprocess
    pre = pre.model_copy(update={"source": pre.source.model_copy(update={"path": str(folder / "deid")}),
                                 "splits": pre.splits.model_copy(update={"external_sites": external_sites})})
    return CohortParams.model_validate(data), deid, pre


def build_cohort(release: Params, cohort: DevCohort, folder: Path, log=print) -> dict:
    """The cohort's cache in ``folder``, generated unless a complete one with the same parameters is there.

    Returns:
        the marker's record: spec, parameters, the stage summaries and the seconds it took.
    """
    folder = Path(folder)
    params = dev_params(release, cohort, folder)
    wanted = json.loads(json.dumps({"cohort": asdict(cohort),
                                    "params": {p: s.model_dump(mode="json")
                                               for p, s in zip(("cohort", "deid", "preprocess"), params)}}))
    recorded = _read_marker(folder / MARKER)
    if recorded is not None and {k: recorded.get(k) for k in wanted} == wanted:
        return recorded
    if folder.exists():  # interrupted, or built with other parameters
        log(f"devcohort: {folder} is incomplete or was built with other parameters: rebuilding")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    log(f"devcohort: generating {cohort.name} into {folder}")
    start = time.perf_counter()
    summaries = _run_cores(*params, folder)
    for name in DICOM:
        shutil.rmtree(folder / name, ignore_errors=True)
    record = {**wanted, "summaries": summaries, "seconds": round(time.perf_counter() - start, 1)}
    write_json(folder / MARKER, record)
    return record


def _run_cores(cohort: CohortParams, deid: DeidParams, pre: PreprocessParams, folder: Path) -> dict:
    """cohort -> deid (a new throwaway key in ``folder``) -> preprocess, as their commands call them."""
    summary = generate.run(cohort, folder / "raw")
    create_key_file(Path(deid.key_file))
    key = read_key_file(Path(deid.key_file))
    paths = batch.DeidPaths(source=Path(deid.source), output=folder / "deid", quarantine=folder / "deid_quarantine",
                            report=folder / "deid.json")
    report = batch.run(deid, paths, key, replace=True)
    cached = stage.run(pre, stage.PreprocessPaths(cache=folder / "preprocessed", splits=folder / "splits.json",
                                                  fingerprint=folder / "fingerprint.json"), progress=bar("preprocess"))
    return {"cohort": summary, "deid": {k: report[k] for k in ("files_in", "written", "quarantined", "patients")},
            "preprocess": cached}


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_cohort(name: str, folder: Path) -> list[DevCase]:
    """Every case of every split of a built development cohort (its own splits, locked ones included)."""
    splits = load_splits(Path(folder) / "splits.json")
    names = [split for split in SPLITS if splits.cases(split)]
    loaded = load_cases(Path(folder) / "preprocessed", splits, names, allow_locked=True)
    return [DevCase(name, split, case) for split in names for case in loaded[split]]


# --- models --------------------------------------------------------------------------------------

def release_models(release: Params) -> tuple[list[Model], str | None]:
    """The teacher and the compressed model of the release (an empty list without the teacher file),
    and why the compressed one is missing (None when it is there)."""
    folder, choice_file = Path(release.paths.models), Path(release.paths.choice)
    if not released_file(folder, TEACHER).is_file() or not choice_file.is_file():
        return [], None
    choice = json.loads(choice_file.read_text())
    models = [_released(folder, TEACHER, choice.get(TEACHER))]
    if not released_file(folder, "compressed").is_file():
        return models, f"no {released_file(folder, 'compressed')}: the release shipped no compressed model"
    return models + [_released(folder, "compressed", choice.get("compressed"))], None


def _released(folder: Path, role: str, chosen: dict | None) -> Model:
    path = released_file(folder, role)
    blob, _, _, stored = read_checked(path)
    if not chosen:
        raise UserError(f"the compression choice has no {role!r} entry: rerun the compress stage")
    post = PostProcessing(float(chosen["foreground_threshold"]), bool(chosen["keep_largest_component"]))
    ships = None if stored is None else (stored.foreground_threshold, stored.keep_largest_component)
    if ships is not None and ships != (post.foreground_threshold, post.keep_largest_component):
        raise UserError(f"{path} runs threshold {ships[0]}, largest component {ships[1]}, but the compression "
                        f"choice says {asdict(post)}: the release is not consistent; rerun export")
    return Model(role, blob, post, str(path))


def candidate_models(release: Params, window: WindowSpec, folder: Path, log=print) -> list[Model]:
    """Every candidate checkpoint, exported to ONNX in ``folder``, with its measured post-processing."""
    from pipeline.nets.checkpoint import load_checkpoint
    from pipeline.nets.onnx import export_onnx

    metrics_file = Path(release.paths.compress_metrics)
    rows = json.loads(metrics_file.read_text()).get("candidates", []) if metrics_file.is_file() else []
    chosen = {r["name"]: r["postprocessing"] for r in rows if r.get("runtime") == engines.ORT_CPU
              and r.get("precision", "fp32") == "fp32" and r.get("postprocessing")}
    models = []
    for checkpoint in sorted(Path(release.paths.candidates).glob("*.pt")):
        name = checkpoint.stem
        if name not in chosen:
            log(f"devcohort: {name}: no {engines.ORT_CPU} row with post-processing in {metrics_file}; skipped")
            continue
        net, _ = load_checkpoint(checkpoint)
        onnx_file = Path(folder) / f"{name}.onnx"
        export_onnx(net, onnx_file, window.spatial_dims, window.in_channels, list(window.patch_size),
                    release.export.opset, release.export.exporter)
        post = PostProcessing(float(chosen[name]["foreground_threshold"]),
                              bool(chosen[name]["keep_largest_component"]))
        models.append(Model(name, onnx_file.read_bytes(), post, str(checkpoint)))
    return models


def window_of(release: Params) -> WindowSpec:
    """The compress stage's sliding windows: the teacher checkpoint's patch (``train`` params without it)."""
    teacher = Path(release.paths.teacher)
    config = {"spatial_dims": release.train.network.spatial_dims, "patch_size": release.train.patch_size}
    if teacher.is_file():
        from pipeline.nets.checkpoint import load_checkpoint

        config = load_checkpoint(teacher)[1]
    return WindowSpec(spatial_dims=int(config["spatial_dims"]), in_channels=int(config.get("in_channels", 1)),
                      patch_size=[int(v) for v in config["patch_size"]], sw_overlap=release.compress.sw_overlap,
                      sw_batch_size=release.compress.sw_batch_size)


# --- evaluation and statistics -------------------------------------------------------------------

@dataclass(frozen=True)
class Drift:
    """``verify``'s calibration drift: ``scale * x + shift`` clipped to ``bounds`` (None: unclipped)."""

    scale: float
    shift: float
    bounds: tuple[float, float] | None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return perturb.intensity(image, self.scale, self.shift, self.bounds)


class _Windows:
    """An engine as ``membership_stage.case_loss`` calls a released model: ``spec.patch_size`` and a call."""

    def __init__(self, engine, window: WindowSpec) -> None:
        self.engine, self.spec = engine, window

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.engine(batch)


def _engine(model: Model, window: WindowSpec, threads: int):
    return engines.open_engine(model.onnx, engines.ORT_CPU, threads,
                               (window.sw_batch_size, window.in_channels, *window.patch_size))


def dice_per_case(model: Model, cases: Iterable[DevCase], window: WindowSpec, threads: int,
                  drift: Drift | None = None) -> dict[str, float]:
    """The model's Dice on every case (on its drifted image when ``drift`` is given), with its own
    post-processing: case key -> Dice."""
    engine = _engine(model, window, threads)
    post = model.postprocessing
    dice = {}
    for case in progress(list(cases), desc=model.name + (" (drift)" if drift else "")):
        image = case.case.image if drift is None else drift(case.case.image)
        logits = predict_volume(engine, image, window)
        mask = postprocess.decide(logits, post)
        dice[case.key] = round(mean_dice(mask, np.asarray(case.case.label)[0], int(logits.shape[0])), 6)
    return dice


def drop_statistics(drops: Mapping[str, float], clusters: Mapping[str, str], samples: int, seed: int) -> dict:
    """Mean drop with its patient-cluster bootstrap interval, median, 10th and 90th percentiles."""
    keys = list(drops)
    estimate = bootstrap_mean([drops[k] for k in keys], [clusters[k] for k in keys], samples, seed)
    values = np.asarray([drops[k] for k in keys], dtype=float)
    values = values[~np.isnan(values)]
    quantiles = np.quantile(values, [0.5, 0.1, 0.9]) if values.size else [np.nan] * 3
    return {"n": estimate.n, "patients": estimate.n_clusters, "mean": _round(estimate.mean),
            "ci_lower": _round(estimate.ci_lower), "ci_upper": _round(estimate.ci_upper), "level": estimate.level,
            "median": _round(quantiles[0]), "p10": _round(quantiles[1]), "p90": _round(quantiles[2])}


def summarise(teacher: Mapping[str, float], model: Mapping[str, float], info: Mapping[str, dict],
              samples: int, seed: int, largest: int = LARGEST) -> dict:
    """The paired drop ``teacher - model`` over all cases, per cohort and per site, and the largest drops.

    Args:
        teacher: case key -> the teacher's Dice.
        model: case key -> the model's Dice (the same cases).
        info: case key -> ``cohort``, ``patient`` and ``site`` (``DevCase.info``).
        samples: bootstrap resamples.
        seed: bootstrap seed.
        largest: how many of the largest drops to list.
    """
    if set(teacher) != set(model):
        raise ValueError("teacher and model were measured on different cases")
    drops = {k: teacher[k] - model[k] for k in teacher}
    clusters = _clusters(info)

    def group(keys: list[str]) -> dict:
        return {**drop_statistics({k: drops[k] for k in keys}, clusters, samples, seed),
                "teacher_dice": _round(np.nanmean([teacher[k] for k in keys])),
                "model_dice": _round(np.nanmean([model[k] for k in keys]))}

    def by(field: str) -> dict:
        values = sorted({info[k][field] for k in drops})
        return {v: group([k for k in drops if info[k][field] == v]) for v in values}

    worst = sorted((k for k in drops if not np.isnan(drops[k])), key=lambda k: (-drops[k], k))[:largest]
    return {"all": group(list(drops)), "by_cohort": by("cohort"), "by_site": by("site"),
            "largest_drops": [{"case": k, "site": info[k]["site"], "drop": _round(drops[k]),
                               "teacher": teacher[k], "model": model[k]} for k in worst]}


def drift_statistics(clean: Mapping[str, float], drifted: Mapping[str, float], info: Mapping[str, dict],
                     samples: int, seed: int) -> dict:
    """Dice lost under the drift per case (clean - drifted): ``drop_statistics`` plus the largest loss."""
    if set(clean) != set(drifted):
        raise ValueError("clean and drifted Dice were measured on different cases")
    losses = {k: clean[k] - drifted[k] for k in clean}
    finite = [v for v in losses.values() if not np.isnan(v)]
    return {**drop_statistics(losses, _clusters(info), samples, seed), "max": _round(max(finite)) if finite else None}


def _clusters(info: Mapping[str, dict]) -> dict[str, str]:
    """Case key -> its bootstrap cluster ``<cohort>/<patient>`` (patients of two cohorts never merge)."""
    return {k: f"{v['cohort']}/{v['patient']}" for k, v in info.items()}


def membership_auc(model: Model, members: list[LoadedCase], cases: list[DevCase], window: WindowSpec,
                   threads: int, samples: int, seed: int) -> dict:
    """``verify``'s loss-threshold attack: the release's training cases (members) against every
    development case (non-members); the AUC with its patient-bootstrap interval and the mean losses."""
    scorer = _Windows(_engine(model, window, threads), window)
    member_loss = [membership_stage.case_loss(scorer, c) for c in members]
    other_loss = [membership_stage.case_loss(scorer, c.case) for c in cases]
    estimate = membership.bootstrap_auc([-v for v in member_loss], [f"release/{c.record.patient_id}" for c in members],
                                        [-v for v in other_loss], [f"{c.cohort}/{c.case.record.patient_id}" for c in cases],
                                        samples, seed)
    return {"auc": _round(estimate.mean), "ci_lower": _round(estimate.ci_lower), "ci_upper": _round(estimate.ci_upper),
            "level": estimate.level, "members": len(members), "nonmembers": len(cases),
            "member_mean_loss": _round(np.nanmean(member_loss)), "nonmember_mean_loss": _round(np.nanmean(other_loss))}


def evaluate(models: list[Model], cases: list[DevCase], window: WindowSpec, threads: int, samples: int,
             seed: int, drift: Drift | None = None, members: list[LoadedCase] | None = None) -> dict:
    """Every model on every case; the drop of each against the teacher (``models[0]``); with ``drift``
    each model's loss under it, with ``members`` (the release's training cases) each model's attack AUC."""
    dice = {model.name: dice_per_case(model, cases, window, threads) for model in models}
    info = {case.key: case.info() for case in cases}
    reference = models[0].name
    out = {"per_case": {k: {**info[k], "dice": {m: dice[m][k] for m in dice}} for k in info},
           "summary": {m: summarise(dice[reference], dice[m], info, samples, seed)
                       for m in dice if m != reference}}
    if drift is not None:
        drifted = {model.name: dice_per_case(model, cases, window, threads, drift) for model in models}
        for k in info:
            out["per_case"][k]["dice_drift"] = {m: drifted[m][k] for m in drifted}
        out["drift"] = {"scale": drift.scale, "shift": drift.shift, "bounds": drift.bounds,
                        "models": {m: drift_statistics(dice[m], drifted[m], info, samples, seed) for m in dice}}
    if members:
        out["membership"] = {model.name: membership_auc(model, members, cases, window, threads, samples, seed)
                             for model in models}
    return out


def _round(value) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


# --- the command ---------------------------------------------------------------------------------

def run(release: Params, env: Mapping[str, str], cache: Path = CACHE, log=print) -> dict | None:
    """Build (or reuse) the cohorts, evaluate the models, return the record (None: nothing to measure)."""
    cohorts = parse_cohorts(env.get("DEV_SEEDS") or DEFAULT_SEEDS, release.cohort)
    candidates = wants_candidates(env)
    models, missing = release_models(release)
    if not models:
        log(f"skipped: {released_file(Path(release.paths.models), TEACHER)} or {release.paths.choice} "
            "not found (run `make repro` first)")
        return None
    if missing:
        log(f"devcohort: {missing}; evaluating the candidates instead")
    window = window_of(release)
    built = {c.name: build_cohort(release, c, Path(cache) / c.name, log) for c in cohorts}
    cases = [case for c in cohorts for case in load_cohort(c.name, Path(cache) / c.name)]
    with tempfile.TemporaryDirectory() as tmp:
        if candidates or missing:
            models += candidate_models(release, window, Path(tmp), log)
    if len(models) < 2:
        log("devcohort: no model to compare with the teacher")
        return None
    intensity = release.verify.robustness.intensity
    drift = Drift(intensity.scale, intensity.shift, perturb.bounds_of(release.preprocess.normalisation))
    result = evaluate(models, cases, window, release.compress.threads, release.compress.bootstrap_samples,
                      release.compress.seed, drift, release_members(release, log))
    return {"what": "development evidence (generated cohorts, no release split), not V&V",
            "cohorts": {name: {"folder": str(Path(cache) / name), **record["cohort"],
                               "cases": sum(c.cohort == name for c in cases), "summaries": record["summaries"]}
                        for name, record in built.items()},
            "models": {m.name: m.record() for m in models}, "reference": models[0].name,
            "runtime": engines.ORT_CPU, "threads": release.compress.threads, "window": window.model_dump(),
            "bootstrap": {"samples": release.compress.bootstrap_samples, "seed": release.compress.seed},
            **result}


def release_members(release: Params, log=print) -> list[LoadedCase]:
    """The release's training cases (the attack's members); [] without the release's cache."""
    cache, splits = Path(release.paths.cache), Path(release.paths.splits)
    if not (cache / "index.json").is_file() or not splits.is_file():
        log(f"devcohort: no release cache in {cache}: membership not measured")
        return []
    return load_cases(cache, load_splits(splits), ["train"])["train"]


def table(record: dict) -> list[str]:
    """The printed summary: one row per model and group, then each model's largest drops."""
    head = (f"{'model':20s} {'group':40s} {'n':>4s} {'pts':>4s} {'teacher':>7s} {'model':>7s} {'drop':>8s} "
            f"{'95 % CI':>19s} {'median':>8s} {'p10':>8s} {'p90':>8s}")
    lines = [head]
    for name, summary in record["summary"].items():
        groups = [("all", summary["all"]), *((f"cohort {k}", v) for k, v in summary["by_cohort"].items()),
                  *((f"site {k}", v) for k, v in summary["by_site"].items())]
        for label, s in groups:
            interval = f"[{_f(s['ci_lower'], True).strip()}, {_f(s['ci_upper'], True).strip()}]"
            lines.append(f"{name[:20]:20s} {label[:40]:40s} {s['n']:4d} {s['patients']:4d} {_f(s['teacher_dice'])} "
                         f"{_f(s['model_dice'])} {_f(s['mean'], True)} {interval:>19s} {_f(s['median'], True)} "
                         f"{_f(s['p10'], True)} {_f(s['p90'], True)}")
        lines.append(f"{name}: largest drops " + ", ".join(f"{d['case']} {_f(d['drop'], True).strip()}"
                                                             for d in summary["largest_drops"]))
    if "drift" in record:
        d = record["drift"]
        for name, s in d["models"].items():
            lines.append(f"{name}: Dice lost under the drift x{d['scale']} + {d['shift']}: {_f(s['mean'], True).strip()} "
                         f"[{_f(s['ci_lower'], True).strip()}, {_f(s['ci_upper'], True).strip()}], "
                         f"p90 {_f(s['p90'], True).strip()}, largest {_f(s['max'], True).strip()}")
    for name, m in record.get("membership", {}).items():
        lines.append(f"{name}: membership attack AUC {_f(m['auc']).strip()} [{_f(m['ci_lower']).strip()}, "
                     f"{_f(m['ci_upper']).strip()}] ({m['members']} training cases against {m['nonmembers']} "
                     f"development cases; mean loss {m['member_mean_loss']} against {m['nonmember_mean_loss']})")
    return lines


def _f(value, signed: bool = False) -> str:
    if value is None:
        return f"{'-':>8s}" if signed else f"{'-':>7s}"
    return f"{value:+8.4f}" if signed else f"{value:7.4f}"


def main() -> None:
    try:
        record = run(load_params(Path("params.yaml")), os.environ)
    except UserError as exc:
        raise SystemExit(f"devcohort: {exc}") from None
    if record is None:
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2, sort_keys=True))
    print("\n".join(table(record)))
    print(f"development evidence, not V&V; record: {OUT}")


if __name__ == "__main__":
    main()
