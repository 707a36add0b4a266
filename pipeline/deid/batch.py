"""The batch runner: every file under a folder, quarantine, leak check, report.

``run`` is the pure core of the stage and of the standalone command. Outputs and quarantine
are written atomically: on a leak, or a quarantined share above the ceiling, the report is
written (with the reason) and nothing that looks finished is left in the output folders.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.atomic import atomic_dir, write_json
from pipeline.deid import leakcheck, parallel
from pipeline.deid.allowlist import build_allowlist
from pipeline.deid.keys import SecretKey
from pipeline.deid.params import DeidParams
from pipeline.deid.process import Engine
from pipeline.deid.profile import TABLE_PATH, build_profile, option_columns
from pipeline.deid.pseudonyms import Pseudonymizer
from pipeline.deid.report import Quarantine, build_report, check_ceiling
from pipeline.core.errors import UserError


@dataclass(frozen=True)
class DeidPaths:
    """Where the stage reads and writes."""

    source: Path
    output: Path
    quarantine: Path
    report: Path | None = None


def run(params: DeidParams, paths: DeidPaths, key: SecretKey, progress=None, check_leaks: bool = True) -> dict:
    """De-identify every file under ``paths.source`` into ``paths.output``; return the report.

    Args:
        params: the validated ``deid`` section.
        paths: input, output, quarantine and report locations.
        key: the secret key (never written anywhere).
        progress: optional callable ``(done, total)`` for a progress display.
        check_leaks: run the independent leak check (the stage always does; only the benchmark
            that times the de-identifier alone passes False, and the report then says so).
    """
    source = Path(paths.source)
    if not source.is_dir():
        raise UserError(f"deid: input folder {source} does not exist")
    _check_reid_location(params, paths)
    start = time.perf_counter()
    engine = make_engine(params, key)
    files = list_files(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns per odd value; the report counts outcomes
        return _run(params, paths, key, engine, files, progress, start, check_leaks)


def _run(params: DeidParams, paths: DeidPaths, key: SecretKey, engine: Engine, files: list[Path],
         progress, start: float, check_leaks: bool) -> dict:
    source = Path(paths.source)
    with atomic_dir(Path(paths.output)) as out, atomic_dir(Path(paths.quarantine)) as qdir:
        quarantine = Quarantine(qdir, source)
        counts, pairs, patients = _process_all(files, params, key, out, quarantine, progress)
        quarantine.write_index()
        leaks = _leak_check(params, source, files, out, pairs) if check_leaks else None
        report = build_report(len(files), len(pairs), quarantine, {
            **counts,
            "patients": len(patients),
            "studies": len({p.relative_to(out).parts[1] for p in pairs}),
            "series": len({p.relative_to(out).parts[:3] for p in pairs}),
            "profile": {"table_rows": engine.profile.rows, "options": params.options.model_dump(),
                        "method_codes": [code for code, _ in engine.profile.method_codes()]},
            "allow_listed_attributes": len(engine.allow.tags),
            "leak_check": leaks.summary() if leaks else {"enabled": False},
            "max_quarantined_share": params.max_quarantined_share,
            "seconds": round(time.perf_counter() - start, 2),
        })
        _finish(params, paths, report, leaks, patients)
    return report


def list_files(source: Path) -> list[Path]:
    """Every file under ``source`` (symbolic links to folders followed), in a stable order.

    Args:
        source: the input folder.
    """
    found = []
    for folder, _, names in os.walk(source, followlinks=True):
        found += [Path(folder) / name for name in names if (Path(folder) / name).is_file()]
    return sorted(found)


def make_engine(params: DeidParams, key: SecretKey) -> Engine:
    """Resolve the profile and allow-list once and bind the key into a pseudonymizer.

    Args:
        params: the validated ``deid`` section.
        key: the secret key.
    """
    options = params.options
    low, high = params.date_offset_days
    return Engine(
        params=params,
        profile=build_profile(options),
        allow=build_allowlist(options.clean_graphics, options.retain_safe_private),
        pseudo=Pseudonymizer(key, params.uid_root, params.pseudonym_prefix, (low, high)),
    )


def _process_all(files: list[Path], params: DeidParams, key: SecretKey, out: Path, quarantine: Quarantine,
                 progress):
    pairs: dict[Path, Path] = {}
    patients: dict[str, str] = {}
    removed_unknown = removed_private = 0
    for number, (path, outcome) in enumerate(parallel.outcomes(files, params, key, params.workers), 1):
        target = out / outcome.relative if outcome.relative is not None else None
        if outcome.reason is None and target in pairs:
            outcome.reason = "duplicate_sop_instance"
        if outcome.reason is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(outcome.payload)
            pairs[target] = path
            patients[outcome.pseudonym] = outcome.patient_key
            removed_unknown += outcome.removed_unknown
            removed_private += outcome.removed_private
        else:
            quarantine.add(path, outcome.reason, outcome.detail)
        if progress is not None:
            progress(number, len(files))
    counts = {"removed_unknown_attributes": removed_unknown, "removed_private_attributes": removed_private}
    return counts, pairs, patients


def _leak_check(params: DeidParams, source: Path, files: list[Path], out: Path, pairs: dict[Path, Path]):
    policy = leakcheck.LeakPolicy(
        table=TABLE_PATH,
        option_columns=tuple(option_columns(params.options)),
        min_value_length=params.leak_check.min_value_length,
        min_substring_length=params.leak_check.min_substring_length,
        workers=params.workers,
    )
    return leakcheck.check(source, files, out, pairs, policy)


def _finish(params: DeidParams, paths: DeidPaths, report: dict, leaks, patients: dict[str, str]) -> None:
    problems = []
    if leaks is not None and leaks.leaks:
        shown = "; ".join(f"{leak.output} {leak.where}: {leak.kind}" for leak in leaks.leaks[:10])
        problems.append(f"leak check found {len(leaks.leaks)} identifying value(s) in the outputs: {shown}")
    try:
        check_ceiling(report, params.max_quarantined_share)
    except UserError as exc:
        problems.append(str(exc))
    report["status"] = "failed" if problems else "ok"
    if paths.report is not None:
        write_json(Path(paths.report), report)
    if problems:
        raise UserError("deid: " + " | ".join(problems))
    if params.reid_table:
        write_json(Path(params.reid_table), dict(sorted(patients.items())))


def _check_reid_location(params: DeidParams, paths: DeidPaths) -> None:
    if not params.reid_table:
        return
    table = Path(params.reid_table).resolve()
    for folder in (paths.output, paths.quarantine):
        if Path(folder).resolve() in table.parents:
            raise UserError(f"deid.reid_table = {params.reid_table} must lie outside the DVC outputs ({folder})")
