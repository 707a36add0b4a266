"""The compression study: every candidate method of ``benchmarks/compress_study.yaml``, measured.

Runs the compress stage's own core (``pipeline.compress.stage.run``) with the study's candidates
and quantization merged over ``params.yaml``'s ``compress`` section, on the teacher, cache and
splits of the last ``make repro``, into a temporary folder: the release's outputs are not
touched. Prints one row per (model, runtime) and writes the whole record to
``bench/results/compress_study.json``. About 15 minutes on the 2-core machine.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from pipeline.compress import stage
from pipeline.compress.params import CompressParams
from pipeline.params import load_params

STUDY = Path(__file__).with_name("compress_study.yaml")
OUT = Path("bench/results/compress_study.json")


def study_params(params_file: Path = Path("params.yaml"), study_file: Path = STUDY) -> CompressParams:
    """The release's ``compress`` section with the study's keys replacing its own."""
    release = load_params(params_file).compress.model_dump()
    return CompressParams.model_validate({**release, **yaml.safe_load(study_file.read_text())})


def main() -> None:
    release = load_params(Path("params.yaml"))
    teacher, cache, splits = (Path(p) for p in (release.paths.teacher, release.paths.cache, release.paths.splits))
    missing = [str(p) for p in (teacher, cache, splits) if not p.exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (run `make repro` first)")
        return
    params = study_params()
    with tempfile.TemporaryDirectory() as tmp:
        paths = stage.CompressPaths(teacher=teacher, cache=cache, splits=splits, candidates=Path(tmp) / "candidates",
                                    choice=Path(tmp) / "choice.json", metrics=Path(tmp) / "metrics.json")
        metrics = stage.run(params, paths, opset=release.export.opset, exporter=release.export.exporter)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"{'model':24s} {'runtime':16s} {'val Dice':>8s} {'drop':>8s} {'speedup':>8s} {'smaller':>8s}")
    for row in metrics["candidates"]:
        drop = (row.get("dice_drop") or {}).get("mean")
        print(f"{row['name']:24s} {row.get('runtime', '-'):16s} {_f(row.get('val_dice'))} {_f(drop)} "
              f"{_f(row.get('speedup'), 2)} {_f(row.get('size_reduction'), 2)}"
              + (f"  error: {row['error'][:60]}" if row.get("error") else ""))
    print(f"chosen: {metrics['chosen']} on {metrics['runtime']}; training seconds: "
          + ", ".join(f"{k} {v['seconds']}" for k, v in metrics["training"].items()))
    print(f"record: {OUT}")


def _f(value, digits: int = 4) -> str:
    return f"{value:8.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>8s}"


if __name__ == "__main__":
    main()
