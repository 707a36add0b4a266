"""The preprocess core: read cases, transform and cache them, fingerprint, split.

``run`` is pure: params and paths in, files and a summary out. Outputs are written
atomically: the cache folder, the splits JSON and the fingerprint JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.atomic import atomic_dir
from pipeline.core.forkmap import fork_map
from pipeline.core.records import write_record
from pipeline.data.readers import read_cases
from pipeline.data import cache
from pipeline.data.case import Case
from pipeline.preprocess import fingerprint, splits, transforms
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.records import CacheIndex, Fingerprint, SplitsRecord


@dataclass(frozen=True)
class PreprocessPaths:
    """The stage's outputs."""

    cache: Path  # the cache folder (replaced atomically)
    splits: Path  # the splits JSON
    fingerprint: Path  # the data-set fingerprint JSON


def run(params: PreprocessParams, paths: PreprocessPaths, progress=None) -> dict:
    """Preprocess every readable case of ``params.source`` (its ``path`` set).

    Cases are read, transformed and written in ``params.workers`` forked processes
    (``pipeline.core.forkmap``); records, index, splits and fingerprint are built here, in case order.

    Args:
        params: the validated ``preprocess`` section.
        paths: where the cache, the splits and the fingerprint go.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    out_dir, splits_path, fingerprint_path = paths.cache, paths.splits, paths.fingerprint
    result = read_cases(params.source, params.max_bad_fraction, progress=progress, workers=params.workers)
    names = params.source.class_names
    fingerprint.check_classes(result.cases, names, params.source.path)
    dims = result.cases[0].image.ndim
    chain = transforms.build(params, dims)
    with atomic_dir(Path(out_dir)) as tmp:

        def cache_case(case: Case) -> dict:  # in a worker process: transform, compress, hash one case
            image, label, affine = transforms.apply(chain, case)
            digest = cache.write_case(tmp, case.case_id, image, label)
            return {
                **case.attributes(), "sha256": digest, "shape": list(image.shape[1:]),
                "spacing": [float(v) for v in np.linalg.norm(affine[:dims, :dims], axis=0)],
                "affine": np.round(affine, 6).tolist(), "original_shape": list(case.image.shape),
                "original_spacing": case.spacing, "foreground_voxels": int((label > 0).sum()),
                "class_voxels": fingerprint.class_voxels(label, names)}

        done = fork_map(cache_case, result.cases, params.workers)
        records = {record["case_id"]: record for record in (progress(done) if progress else done)}
        index = {"spatial_dims": dims, "classes": names, "target_spacing_mm": list(params.target_spacing_mm),
                 "orientation": "RAS" if dims == 3 else "image rows, columns",
                 "normalisation": params.normalisation.model_dump(), "cases": records,
                 "bad_cases": [{"name": b.name, "reason": b.reason} for b in result.bad]}
        write_record(tmp / cache.INDEX, index, CacheIndex, "cache index")
    split_record = splits.make_splits(list(records.values()), params.splits)
    write_record(Path(splits_path), split_record, SplitsRecord, "splits")
    prints = fingerprint.fingerprint(result.cases, names)
    prints["bad_cases"] = len(result.bad)
    write_record(Path(fingerprint_path), prints, Fingerprint, "data-set fingerprint")
    return {"cases": len(records), "bad_cases": len(result.bad), "spatial_dims": dims, "classes": len(names),
            **{f"{name}_cases": split_record["counts"][name]["cases"] for name in splits.SPLITS}}
