"""De-identification throughput: this stage against ``dicognito`` on the same files, one run.

Corpora: every file of pydicom's test files (pydicom-data included) that pydicom reads as
DICOM plus a small generated cohort (the default sites, two patients each); then the cohort
alone, where almost every file is de-identified rather than quarantined. Both tools read
each file, de-identify it and write it to a fresh folder, in one process. Ours is timed twice:
the de-identifier alone (leak check off) and the whole stage (with the independent leak
check), and both with two worker processes (``deid.workers: 2``; "deid+leakcheck" is what
``dvc repro`` runs with the default ``deid.workers: 1``). Each measurement is the best of ``REPEATS`` alternating runs (the machine is shared).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

REPEATS = 2
PATIENTS_PER_SITE = 2


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp) / "corpus")
        # The whole corpus (many pydicom test files are quarantined by us, which is cheap),
        # then the cohort alone (almost every file de-identified): the fair like-for-like case.
        for number, (label, folder) in enumerate((("pydicom test files + generated cohort", corpus),
                                                  ("generated cohort only", corpus / "cohort"))):
            _compare(label, folder, Path(tmp) / f"runs-{number}")  # outside the corpus


def _compare(label: str, corpus: Path, scratch: Path) -> None:
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    timings: dict[str, float] = {}
    for repeat in range(REPEATS):
        for name, bench in (("dicognito", _dicognito), ("deid", _ours_no_check), ("deid+leakcheck", _ours),
                            ("deid 2 workers", _ours_two_workers), ("stage 2 workers", _stage_two_workers)):
            seconds = bench(corpus, files, scratch / f"{name}-{repeat}")
            timings[name] = min(timings.get(name, float("inf")), seconds)
    rates = {name: len(files) / seconds for name, seconds in timings.items()}
    print(f"corpus: {len(files)} files ({label})")
    for name, rate in rates.items():
        print(f"  {name:15s} {rate:8.1f} files/s  ({timings[name]:.2f} s)")
    for name in ("deid", "deid+leakcheck", "deid 2 workers", "stage 2 workers"):
        print(f"  ratio {name} / dicognito = {rates[name] / rates['dicognito']:.2f}")


def build_corpus(root: Path) -> Path:
    """Links to pydicom's readable test files plus a small generated cohort under ``root``."""
    import pydicom
    import pydicom.data

    from pipeline.cohort.generate import run as generate
    from pipeline.params import load_section

    for number, name in enumerate(sorted(pydicom.data.get_testdata_files())):
        path = Path(name)
        if not path.is_file():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        target = root / "pydicom" / f"{number:04d}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, target)
    params = load_section("cohort", Path("params.yaml")).model_copy(update={"patients_per_site": PATIENTS_PER_SITE})
    generate(params, root / "cohort")
    return root


def _ours(corpus: Path, files: list[Path], out: Path, check: bool = True, workers: int = 1) -> float:
    from pipeline.deid.batch import DeidPaths, run
    from pipeline.deid.keys import SecretKey
    from pipeline.params import load_section

    params = load_section("deid", Path("params.yaml"))
    params = params.model_copy(update={
        "max_quarantined_share": 1.0,
        "workers": workers,
    })
    start = time.perf_counter()
    run(params, DeidPaths(corpus, out / "out", out / "quarantine"), SecretKey(b"benchmark-key-0123456789"),
        check_leaks=check)
    return time.perf_counter() - start


def _ours_two_workers(corpus: Path, files: list[Path], out: Path) -> float:
    return _ours(corpus, files, out, check=False, workers=2)


def _stage_two_workers(corpus: Path, files: list[Path], out: Path) -> float:
    return _ours(corpus, files, out, check=True, workers=2)


def _ours_no_check(corpus: Path, files: list[Path], out: Path) -> float:
    return _ours(corpus, files, out, check=False)


def _dicognito(corpus: Path, files: list[Path], out: Path) -> float:
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
