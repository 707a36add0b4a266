"""Timings that decide a release: interleaved rounds, and rounds a busy machine spoiled set aside."""

import itertools

import pytest

from pipeline.core import timing

pytestmark = pytest.mark.verifies("SRS-COMP-001", "SRS-COMP-005")


def test_busy_seconds_sum_every_busy_column_of_the_first_line(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 50 1000 7 3 2 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    hz = timing.os.sysconf("SC_CLK_TCK")
    assert timing.busy_cpu_seconds(stat) == pytest.approx((100 + 5 + 50 + 3 + 2 + 10) / hz)
    assert timing.busy_cpu_seconds(tmp_path / "absent") is None
    (tmp_path / "bad").write_text("cpu x\n")
    assert timing.busy_cpu_seconds(tmp_path / "bad") is None


def test_the_share_of_other_processes_leaves_out_this_process():
    assert timing.others_share(10.0, 12.0, own_cpu=2.0, wall=1.0, cpus=2) == 0.0
    assert timing.others_share(10.0, 12.0, own_cpu=1.0, wall=1.0, cpus=2) == pytest.approx(0.5)
    assert timing.others_share(None, 12.0, own_cpu=1.0, wall=1.0, cpus=2) == 0.0


def _machine(monkeypatch, shares):
    """Fake the machine: each round, other processes take the next share of the CPUs."""
    clock = itertools.count()
    monkeypatch.setattr(timing.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(timing.time, "process_time", lambda: 0.0)
    busy, share_of_round = [0.0], iter(shares)

    def busy_cpu_seconds():  # called twice a round; the second call adds the round's load
        busy_cpu_seconds.calls += 1
        if busy_cpu_seconds.calls % 2 == 0:
            busy[0] += next(share_of_round) * 3 * 2  # 3 clock ticks a round (2 calls + 1), 2 CPUs
        return busy[0]
    busy_cpu_seconds.calls = 0
    monkeypatch.setattr(timing, "busy_cpu_seconds", busy_cpu_seconds)
    monkeypatch.setattr(timing.os, "sched_getaffinity", lambda pid: {0, 1})


def test_rounds_on_a_busy_machine_are_timed_again(monkeypatch, capsys):
    _machine(monkeypatch, [0.9, 0.0, 0.9, 0.0, 0.0])
    runs = []
    calls = {"teacher": lambda: runs.append("teacher"), "student": lambda: runs.append("student")}
    assert timing.interleaved_medians(calls, repeats=3, warmup=0) == {"teacher": 1.0, "student": 1.0}
    assert runs.count("teacher") == 5  # two contended rounds set aside, three quiet ones kept
    assert capsys.readouterr().err == ""


def test_a_machine_busy_throughout_is_said_and_every_round_counts(monkeypatch, capsys):
    _machine(monkeypatch, [0.9] * 9)
    runs = []
    out = timing.interleaved_medians({"model": lambda: runs.append(1)}, repeats=3, warmup=1)
    assert out == {"model": 1.0}
    assert len(runs) == 1 + 3 * (1 + timing.EXTRA_ROUNDS)
    err = capsys.readouterr().err
    assert "timings contended" in err and "90 % of the 2 CPUs" in err and "9 of 9 rounds" in err
