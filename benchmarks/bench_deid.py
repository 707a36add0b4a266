"""De-identification throughput: the stage with its leak check against ``dicognito``, and scaling.

Corpora, generated into a temporary folder by the cohort generator (``params.yaml``'s
``cohort`` section, external cohort included):

* ``cohort``: the default cohort (``BENCH_DEID_PATIENTS`` patients per site instead of the
  section's, if set; the external cohort shrinks in proportion);
* ``10x``: the same with ``BENCH_DEID_SCALE`` (default 10) times the patients per site;
* ``10x, half``: the first half of the patient folders of ``10x`` (links), so that
  ``10x`` / ``10x, half`` is the time ratio of twice the corpus (target: at most 2.2).

Timed on each corpus (the half and the whole 10x corpus back to back per tool, so that load
drift on a shared machine spares the scaling ratio), ``REPEATS`` times, best kept:
``dicognito`` (one process: read, anonymize, write every file; it keeps private tags and checks
nothing), ``deid`` (our de-identifier alone, leak check off, one process), ``stage 1 worker``
(de-identifier and independent leak check, one process) and ``stage N workers`` (what
``dvc repro`` runs: ``deid.workers`` of ``params.yaml``, processes for both). At the defaults
(16 patients per site, 10x) this takes about an hour on the 2-core reference machine; set
``BENCH_DEID_PATIENTS=2`` for a run of about a quarter of an hour.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

REPEATS = 1
KEY = b"benchmark-key-0123456789abcdef-0123456789"


def main() -> None:
    from pipeline.params import load_section

    workers = load_section("deid", Path("params.yaml")).workers
    scale = int(os.environ.get("BENCH_DEID_SCALE", "10"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = _generate(root / "cohort", 1)
        large = _generate(root / "large", scale)
        half = _half(large, root / "half")
        names = ("dicognito", "deid", "stage 1 worker", f"stage {workers} workers")
        corpora = {"cohort": base, f"{scale}x, half": half, f"{scale}x": large}
        timings: dict[str, dict[str, float]] = {label: {} for label in corpora}
        for repeat in range(REPEATS):
            for name in names:  # the cohort: every tool in turn
                _time(name, "cohort", base, root / "runs", workers, timings, repeat)
            for name in names:  # half then whole, back to back, so that load drift spares the ratio
                for label in (f"{scale}x, half", f"{scale}x"):
                    _time(name, label, corpora[label], root / "runs", workers, timings, repeat)
        for label, folder in corpora.items():
            count = len(_files(folder))
            print(f"corpus {label}: {count} files")
            for name, seconds in timings[label].items():
                print(f"  {name:18s} {count / seconds:8.1f} files/s  ({seconds:7.1f} s)  "
                      f"x dicognito {timings[label]['dicognito'] / seconds:.2f}")
        for name in names:
            ratio = timings[f"{scale}x"][name] / timings[f"{scale}x, half"][name]
            print(f"scaling {name:18s} time(2x corpus) / time(corpus) = {ratio:.2f} "
                  f"({scale}x against its half)")


def _time(name: str, label: str, corpus: Path, scratch: Path, workers: int,
          timings: dict[str, dict[str, float]], repeat: int) -> None:
    out = scratch / f"{label}-{name}-{repeat}".replace(" ", "-").replace(",", "")
    if name == "dicognito":
        seconds = _dicognito(_files(corpus), out)
    else:
        count = workers if name.endswith("workers") else 1
        seconds = _ours(corpus, out, check=name != "deid", workers=count)
    shutil.rmtree(out, ignore_errors=True)  # the 10x outputs would fill a small disk
    timings[label][name] = min(timings[label].get(name, float("inf")), seconds)
    print(f"  {label:12s} {name:18s} {seconds:7.1f} s", flush=True)


def _files(corpus: Path) -> list[Path]:
    from pipeline.deid.inputs import list_files

    return list_files(corpus)  # follows the half corpus's links, as the stage does


def _generate(out: Path, scale: int) -> Path:
    """The default cohort with ``scale`` times its patients (and the env override)."""
    from pipeline.cohort.generate import run as generate
    from pipeline.params import load_section

    params = load_section("cohort", Path("params.yaml"))
    base = int(os.environ.get("BENCH_DEID_PATIENTS", params.patients_per_site))
    update = {"patients_per_site": base * scale}
    if params.external is not None:
        external = max(1, round(params.external.patients_per_site * base / params.patients_per_site)) * scale
        update["external"] = params.external.model_copy(update={"patients_per_site": external})
    start = time.perf_counter()
    generate(params.model_copy(update=update), out)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"generated {out.name}: {files} files in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def _half(corpus: Path, out: Path) -> Path:
    """Links to the first half of the patient folders of ``corpus`` (sorted per site)."""
    for site in sorted(p for p in corpus.iterdir() if p.is_dir()):
        patients = sorted(p for p in site.iterdir() if p.is_dir())
        for patient in patients[: len(patients) // 2]:
            target = out / site.name / patient.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(patient, target)
    return out


def _ours(corpus: Path, out: Path, check: bool, workers: int) -> float:
    from pipeline.deid.batch import DeidPaths, Refused, run
    from pipeline.deid.keys import SecretKey
    from pipeline.params import load_section

    params = load_section("deid", Path("params.yaml"))
    params = params.model_copy(update={"max_quarantined_share": 1.0, "workers": workers})
    start = time.perf_counter()
    try:
        run(params, DeidPaths(corpus, out / "out", out / "quarantine"), SecretKey(KEY), check_leaks=check)
    except Refused as exc:  # timed all the same; the reason is shown
        print(f"  (the run was refused: {str(exc)[:300]})")
    return time.perf_counter() - start


def _dicognito(files: list[Path], out: Path) -> float:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed="benchmark-seed")
    out.mkdir(parents=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, path in enumerate(files):
            try:
                ds = pydicom.dcmread(path)
                anonymizer.anonymize(ds)
                ds.save_as(out / f"{number:05d}.dcm")
            except Exception:  # files dicognito cannot handle still cost their time
                continue
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
