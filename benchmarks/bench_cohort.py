"""Time to generate the default synthetic cohort (target: under a minute on 2 cores)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipeline.cohort.generate import run
from pipeline.params import load_section


def main() -> None:
    params = load_section("cohort", Path("params.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = run(params, Path(tmp) / "raw")
        seconds = time.perf_counter() - start
    print(f"default cohort: {summary['patients']} patients, {summary['studies']} studies, "
          f"{summary['files']} files in {seconds:.1f} s ({summary['files'] / seconds:.0f} files/s)")


if __name__ == "__main__":
    main()
