"""``predict`` on a large CT volume: wall time and peak memory (issue 17: goal under 2 GB).

A 512x512x400 NIfTI at 0.7 x 0.7 x 1.0 mm (a thin-slice abdominal CT) holding a body, an organ
and a lesion, segmented with the released teacher (``release/models/teacher.onnx``; run ``make
repro`` first) in a child process of its own, so that its peak resident memory
(``ru_maxrss`` of the child) is the command's alone. A second, small volume is run the same way
as a reference for the process's fixed cost (Python, the runtime, the model).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

LARGE = (512, 512, 400)
SMALL = (128, 128, 100)
SPACING = (0.7, 0.7, 1.0)


def phantom(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """Air around an elliptic body (40 HU), a liver-like organ (60 HU) and a 2 cm lesion (110 HU)."""
    axes = [(np.arange(n, dtype=np.float32) - n / 2) * s for n, s in zip(shape, spacing)]
    x, y, z = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    volume = np.full(shape, -1000.0, dtype=np.float32)
    body = (x / 160.0) ** 2 + (y / 120.0) ** 2 <= 1.0
    volume[np.broadcast_to(body, shape)] = 40.0
    organ = ((x - 40) / 70.0) ** 2 + ((y + 10) / 55.0) ** 2 + (z / 90.0) ** 2 <= 1.0
    volume[organ] = 60.0
    lesion = (x - 50) ** 2 + (y + 5) ** 2 + (z - 10) ** 2 <= 10.0 ** 2
    volume[lesion] = 110.0
    volume += np.random.default_rng(0).normal(0.0, 10.0, shape).astype(np.float32)
    return volume


def run_predict(model: Path, source: Path, output: Path) -> tuple[float, float, str]:
    """Seconds, peak resident MiB of the child process, and its last output line."""
    code = ("import resource, sys; from pipeline.cli import main; rc = main(sys.argv[1:]); "
            "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); raise SystemExit(rc)")
    start = time.perf_counter()
    # 1.0 mm slices are thinner than the released model's validated range: a memory benchmark, not a use
    done = subprocess.run([sys.executable, "-c", code, "predict", str(model), str(source), str(output),
                           "--outside-intended-use"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"predict failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    peak = next(int(line.split()[1]) for line in lines if line.startswith("peak_kib"))
    message = next(line for line in lines if line.startswith("predict:"))
    return seconds, peak / 1024.0, message


def main() -> None:
    from pipeline.params import repo_paths
    from pipeline.runtime.model import released_file

    model = released_file(Path(repo_paths(Path(".")).models), "teacher")
    if not model.is_file():
        raise SystemExit(f"{model} not found: run `make repro` first")
    affine = np.diag([*SPACING, 1.0])
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, shape in (("small", SMALL), ("large", LARGE)):
            source = Path(tmp) / f"{name}.nii"  # int16, uncompressed, as scanners' converters write CT
            nib.save(nib.Nifti1Image(np.rint(phantom(shape, SPACING)).astype(np.int16), affine), source)
            seconds, peak, message = run_predict(model, source, Path(tmp) / f"{name}_mask.nii.gz")
            rows.append((name, shape, seconds, peak, message))
    for name, shape, seconds, peak, message in rows:
        print(f"{name} {'x'.join(map(str, shape))} at {SPACING} mm: {seconds:.1f} s, peak {peak:.0f} MiB  "
              f"[{message}]")
    print(f"large volume: peak resident memory {rows[1][3]:.0f} MiB (goal < 2048), "
          f"{rows[1][3] - rows[0][3]:.0f} MiB above the small volume's {rows[0][3]:.0f} MiB")


if __name__ == "__main__":
    main()
