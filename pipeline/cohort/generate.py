"""The embedded default data set: a deterministic synthetic multi-site CT cohort as DICOM.

``run`` is the pure core: params in, a folder of DICOM files and a PHI-free summary out.
Layout: ``<out>/<site>/<PatientID>/<StudyDate>_<Accession>/{CT,SEG,DOSE}/*.dcm`` (patient
identifiers in paths, as in real hospital exports).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import multiprocessing
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from pydicom import config
from pydicom.uid import generate_uid

from pipeline.core.atomic import atomic_dir
from pipeline.cohort import dicom_series, identity, phantom, segmentation
from pipeline.cohort.params import CohortParams, SiteParams
from pipeline.core.progress import progress
from pipeline.core.records import check_record
from pipeline.cohort.record import CohortSummary

FIRST_DAY = datetime.date(2019, 1, 1).toordinal()
LAST_DAY = datetime.date(2024, 12, 31).toordinal()


def run(params: CohortParams, out_dir: Path) -> dict:
    """Generate the cohort into ``out_dir`` (replaced atomically); return its summary.

    Args:
        params: the validated ``cohort`` section.
        out_dir: the folder to create; an existing one is replaced only on success.
    """
    jobs = [(seed, site, number, index)  # the external cohort depends on nothing else
            for seed, sites, count in _cohorts(params)
            for index, (site, number) in enumerate(((s, n) for s in sites for n in range(count)), start=1)]
    with atomic_dir(Path(out_dir)) as tmp:
        if params.workers <= 1:
            patients = [_patient(params, *job, tmp) for job in progress(jobs, desc="cohort")]
        else:  # every patient is seeded by its own key and written to its own folder: any order gives the same files
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(params.workers, len(jobs)), mp_context=context) as pool:
                done = pool.map(_patient, *zip(*[(params, *job, tmp) for job in jobs]))
                patients = list(progress(done, total=len(jobs), desc=f"cohort ({params.workers} processes)"))
    summary = _summary(params, patients)
    check_record(summary, CohortSummary, "cohort summary")  # the command writes it
    return summary


def _cohorts(params: CohortParams) -> list[tuple[int, list[SiteParams], int]]:
    """(seed, sites, patients per site) of the development cohort and of the external one."""
    external = params.external
    return [(params.seed, params.sites, params.patients_per_site),
            *([(external.seed, external.sites, external.patients_per_site)] if external else [])]


def _patient(params: CohortParams, seed: int, site: SiteParams, number: int, index: int, out: Path) -> dict:
    """One patient's studies, written under ``out`` (runs in a worker process).

    pydicom's value validation is off here (``config.disable_value_validation``, which pydicom offers
    "for performance reasons if the values are known to be valid"): the values are this module's own,
    and in pydicom's default mode a failed check only warns, so the files are the same bytes. Measured
    on 9 patients in one process, interleaved: 7.72 s with validation, 7.35 s without (median of 3).
    """
    with config.disable_value_validation():
        return _patient_studies(params, seed, site, number, index, out)


def _patient_studies(params: CohortParams, seed: int, site: SiteParams, number: int, index: int,
                     out: Path) -> dict:
    key = f"{seed}:{site.name}:{number}"
    rng = random.Random(key)
    first_day = rng.randint(FIRST_DAY, LAST_DAY - 400)
    person = identity.make_patient(rng, site.name[:2].upper(), datetime.date.fromordinal(first_day).year)
    fov = min(site.rows, site.columns) * site.pixel_spacing_mm
    anatomy = phantom.sample_anatomy(rng, fov, site.slices * site.slice_thickness_mm)
    n_studies = 2 if params.followup_every and index % params.followup_every == 0 else 1
    dose = bool(params.dose_report_every) and index % params.dose_report_every == 0
    studies = []
    day = first_day
    for study_number in range(n_studies):
        if study_number:
            day += rng.randint(90, 400)
            anatomy = _grown(anatomy, rng.uniform(0.75, 1.35))
        studies.append(_study(site, person, anatomy, rng, f"{key}:{study_number}", day, dose, out))
    return {"site": site.name, "manufacturer": site.manufacturer, "sex": person.sex,
            "age": person.age_years, "studies": studies}


def _study(site: SiteParams, person: identity.PatientIdentity, anatomy: phantom.Anatomy,
           rng: random.Random, key: str, day: int, dose: bool, out: Path) -> dict:
    uid = _uid_factory(key)
    date = datetime.date.fromordinal(day).strftime("%Y%m%d")
    info = dicom_series.StudyInfo(
        patient=person, study_uid=uid("study"), study_date=date,
        study_time=f"{rng.randint(7, 18):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}",
        accession=identity.make_accession(rng), study_id=str(rng.randint(1000, 9999)),
        referenced_study_uid=uid("referenced-study"), frame_of_reference_uid=uid("frame"),
        institution=site.institution, site_address=f"{site.institution} campus, {rng.choice(identity.CITIES)}",
        station=f"{site.name.upper()}CT{rng.randint(1, 3)}", manufacturer=site.manufacturer,
        model=site.model, serial=f"SN{_int_seed(site.name) % 10**6:06d}",
    )
    grid = _grid(site, rng.uniform(-5.0, 5.0))
    hu, mask = phantom.render(anatomy, grid, site.noise_hu, np.random.default_rng(_int_seed(key)))
    positions = [(grid.origin[0], grid.origin[1], grid.origin[2] + k * grid.spacing[2])
                 for k in range(grid.shape[0])]
    order = list(range(grid.shape[0]))
    if site.slice_order == "head_first":
        order.reverse()  # instance 1 is the most superior slice
    series_uid = uid("ct-series")
    slices = dicom_series.ct_slices(
        info, hu[order], [positions[k] for k in order], (site.pixel_spacing_mm,) * 2,
        site.slice_thickness_mm, series_uid, [uid(f"ct-{k}") for k in range(len(order))],
    )
    folder = out / site.name / person.patient_id / f"{date}_{info.accession}"
    for ds in slices:
        dicom_series.write(ds, folder / "CT" / f"IM{ds.InstanceNumber:04d}.dcm")
    seg = segmentation.segmentation(slices, mask[order], uid("seg-series"), uid("seg"),
                                    uid("dimension"), site.manufacturer)
    dicom_series.write(seg, folder / "SEG" / "SEG0001.dcm")
    files = len(slices) + 1
    if dose:
        report = dicom_series.dose_report(info, uid("dose-series"), uid("dose"), rng.uniform(5, 20))
        dicom_series.write(report, folder / "DOSE" / "SC0001.dcm")
        files += 1
    voxel_ml = grid.spacing[0] * grid.spacing[1] * grid.spacing[2] / 1000.0
    return {"files": files, "lesion_ml": float(mask.sum()) * voxel_ml, "dose_report": dose}


def _grid(site: SiteParams, table_offset: float) -> phantom.Grid:
    sp, thk = site.pixel_spacing_mm, site.slice_thickness_mm
    origin = (-(site.columns - 1) / 2 * sp, -(site.rows - 1) / 2 * sp,
              -(site.slices - 1) / 2 * thk + table_offset)
    return phantom.Grid(origin, (sp, sp, thk), (site.slices, site.rows, site.columns))


def _grown(anatomy: phantom.Anatomy, factor: float) -> phantom.Anatomy:
    parts = tuple(dataclasses.replace(p, radii=tuple(r * factor for r in p.radii)) for p in anatomy.lesion)
    return dataclasses.replace(anatomy, lesion=parts)


def _uid_factory(key: str):
    return lambda name: generate_uid(entropy_srcs=[key, name])


def _int_seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def _summary(params: CohortParams, patients: list[dict]) -> dict:
    studies = [s for p in patients for s in p["studies"]]
    lesion = np.array([s["lesion_ml"] for s in studies])
    return {
        "patients": len(patients),
        "studies": len(studies),
        "files": sum(s["files"] for s in studies),
        "dose_report_series": sum(s["dose_report"] for s in studies),
        "patients_per_site": dict(sorted(Counter(p["site"] for p in patients).items())),
        "patients_per_manufacturer": dict(sorted(Counter(p["manufacturer"] for p in patients).items())),
        "patients_per_sex": dict(sorted(Counter(p["sex"] for p in patients).items())),
        "age_min": min(p["age"] for p in patients),
        "age_max": max(p["age"] for p in patients),
        "lesion_ml_min": round(float(lesion.min()), 3),
        "lesion_ml_median": round(float(np.median(lesion)), 3),
        "lesion_ml_max": round(float(lesion.max()), 3),
        "seed": params.seed,
        "external_sites": [site.name for site in params.external.sites] if params.external else [],
        "external_seed": params.external.seed if params.external else None,
    }
