"""What MLflow costs a stage process: the run written in the stage (as before) vs by the writer.

Each round runs, in turn, three fresh ``python -c`` processes shaped like a stage: enter
``stage_run``, do ``BENCH_TRACKING_WORK_S`` (default 3) seconds of single-threaded CPU work (a
loop that runs until the process has used that much CPU time, so a writer competing for the core
would lengthen it), log a few params and metrics, exit:

* ``in-process``: ``PIPELINE_MLFLOW_INPROCESS=1``, the run written in the stage process, so
  ``import mlflow`` and opening the store come before the work (the behaviour before the writer);
* ``writer``: the default, the run written by ``pipeline.core.run_writer`` beside the work;
* ``no MLflow``: the work alone, the floor.

Timed: the whole process, start to exit (what ``dvc repro`` waits for). Medians of
``BENCH_TRACKING_ROUNDS`` (default 5) interleaved rounds after one untimed round (which also
creates the temporary SQLite store, as the first stage of a fresh clone does). Prints every round,
the medians, the in-process / writer ratio and what each costs above the work alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = """
import sys, time
from pathlib import Path

mode, root, work = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])


def busy(seconds):
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1


if mode == "no MLflow":
    busy(work)
else:
    from pipeline.core.tracking import stage_run

    with stage_run("bench", inputs=[], root=root) as run:
        busy(work)
        run.log_params({"work_s": work, "mode": mode, "seed": 11})
        run.log_metrics({"dice": 0.9, "loss": 0.1}, step=1)
        run.log_metric("seconds", work)
"""
MODES = {"in-process": {"PIPELINE_MLFLOW_INPROCESS": "1"}, "writer": {}, "no MLflow": {}}


def main() -> None:
    rounds = int(os.environ.get("BENCH_TRACKING_ROUNDS", "5"))
    work = float(os.environ.get("BENCH_TRACKING_WORK_S", "3"))
    base = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PIPELINE_MLFLOW_INPROCESS")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    print(f"{rounds} rounds of {work:g} s of single-threaded work per stage process; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as root:
        for index in range(rounds + 1):
            line = []
            for mode, env in MODES.items():
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", STAGE, mode, root, str(work)], cwd=REPO,
                                      env={**base, **env}, capture_output=True, text=True)
                seconds = time.perf_counter() - start
                if done.returncode:
                    raise SystemExit(f"the {mode} stage process failed:\n{done.stderr[-3000:]}")
                if index:  # the first round is warm-up (and creates the store)
                    times[mode].append(seconds)
                line.append(f"{mode} {seconds:6.2f} s")
            print(f"  {'warm-up' if not index else f'round {index}'}: {', '.join(line)}", flush=True)
    median = {mode: statistics.median(values) for mode, values in times.items()}
    floor = median["no MLflow"]
    for mode, seconds in median.items():
        print(f"{mode:11s} median {seconds:6.2f} s  (+{seconds - floor:5.2f} s over the work alone)")
    print(f"in-process / writer: {median['in-process'] / median['writer']:.2f}x; per stage the writer saves "
          f"{median['in-process'] - median['writer']:.2f} s; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
