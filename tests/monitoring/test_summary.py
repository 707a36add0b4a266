"""The post-market signals from use and review records, and the review command's refusals."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.monitoring import chain, logfile, records, summary

RANGES = {"source": "fingerprint (all)", "cases": 12, "spacing_mm_min": [0.6, 0.6, 2.0],
          "spacing_mm_max": [0.9, 0.9, 3.0], "shape_min": [80, 80, 40], "shape_max": [120, 120, 64],
          "manufacturers": ["SIEMENS"]}
PLAN = {"input_signals": [
    {"id": "PMS-IN-01", "characteristic": "in-plane spacing", "reference": {"kind": "range", "key": "spacing", "axis": 0},
     "share": 0.05, "window": "month"},
    {"id": "PMS-IN-04", "characteristic": "manufacturer", "reference": {"kind": "set", "key": "manufacturers"},
     "share": 0.0, "window": "study"},
    {"id": "PMS-IN-06", "characteristic": "lesion volume", "reference": {"kind": "range", "key": "label_ml"},
     "share": 0.05, "window": "month"}]}


def use(n: int, spacing: float = 0.7, manufacturer: str = "SIEMENS", time: str = "2026-11-02T10:00:00Z",
        warnings: int = 0) -> dict:
    observed = {"sha256": f"{n:064x}", "kind": "dicom", "modality": "CT", "manufacturer": manufacturer,
                "shape": [100, 100, 50], "spacing_mm": [spacing, spacing, 2.5], "intensity": {}}
    return {"kind": "use", "use_id": f"{n:032x}", "time": time, "site": "site-A",
            "model": {"sha256": "ab" * 32, "version": "1.0.0", "role": "compressed"},
            "intended_use": {"outside": bool(warnings), "override": False, "checks": {}, "warnings": warnings},
            "drift": records.drift(observed, RANGES), "output": {"volume_ml": 1.0 + n, "per_class": {}}}


def sealed(bodies: list[dict]) -> list[dict]:
    out, prev = [], chain.GENESIS
    for seq, body in enumerate(bodies, start=1):
        out.append(chain.seal(body, prev, seq))
        prev = out[-1]["hash"]
    return out


@pytest.mark.verifies("SRS-MON-001")
def test_drift_compares_each_characteristic_with_the_model_files_ranges():
    observed = {"spacing_mm": [0.5, 0.7, 2.5], "shape": [100, 130, 50], "manufacturer": "Philips"}
    assert records.drift(observed, RANGES) == {"reference": "fingerprint (all), 12 cases",
                                               "spacing": ["outside", "inside", "inside"],
                                               "shape": ["inside", "outside", "inside"], "manufacturers": "outside"}
    assert records.drift(observed, None)["spacing"] == records.NO_REFERENCE


@pytest.mark.verifies("SRS-MON-003")
def test_summary_counts_uses_warnings_drift_and_the_latest_decision_per_model_site_and_month():
    bodies = [use(1), use(2, spacing=0.4), use(3, manufacturer="Philips", warnings=1),
              use(4, time="2026-12-01T09:00:00Z"),
              records.review_body(f"{1:032x}", "rejected", "dr a", "", "2026-11-03T00:00:00Z"),
              records.review_body(f"{1:032x}", "accepted", "dr a", "second look", "2026-11-04T00:00:00Z"),
              records.review_body(f"{2:032x}", "corrected", "dr b", "", "2026-11-04T00:00:00Z")]
    result = summary.summarise(sealed(bodies), summary.plan_signals(PLAN))
    november, december = result["groups"]
    assert (november["month"], november["uses"], december["uses"]) == ("2026-11", 3, 1)
    assert november["intended_use_warnings"] == 1 and november["intended_use_warning_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert november["input_signals"]["PMS-IN-01"] == {"flagged": 1, "judged": 3, "share": pytest.approx(1 / 3, abs=1e-4),
                                                      "limit": 0.05, "raised": True}
    assert november["input_signals"]["PMS-IN-04"]["flagged"] == 1
    assert november["decisions"] == {"accepted": 1, "corrected": 1} and november["rejection_rate"] == 0.5
    assert result["unreviewed_uses"] == 2 and result["signals_raised"] == ["PMS-IN-01", "PMS-IN-04"]
    assert result["not_computed"][0].startswith("PMS-IN-06")


@pytest.mark.verifies("SRS-MON-003")
def test_a_review_of_an_unknown_use_is_refused_and_a_known_one_is_chained(tmp_path, capsys):
    log = tmp_path / "use_log.jsonl"
    logfile.append(log, use(1))
    args = ["--decision", "accepted", "--reviewer", "dr a", "--use-log", str(log)]
    assert main(["monitor", "review", "f" * 32, *args]) == 2
    assert "is not in the use log" in capsys.readouterr().err
    assert main(["monitor", "review", f"{1:032x}", *args, "--comment", "fine"]) == 0
    saved = logfile.read(log)
    assert saved[-1]["kind"] == "review" and saved[-1]["prev"] == saved[0]["hash"]


@pytest.mark.verifies("SRS-MON-002")
def test_verify_exits_1_naming_the_first_broken_record(tmp_path, capsys):
    log = tmp_path / "use_log.jsonl"
    for n in range(3):
        logfile.append(log, use(n))
    assert main(["monitor", "verify", "--use-log", str(log)]) == 0
    text = log.read_text().splitlines(keepends=True)
    log.write_text(text[0] + text[2])
    assert main(["monitor", "verify", "--use-log", str(log)]) == 1
    assert "line 2" in capsys.readouterr().out
    assert main(["monitor", "summary", "--use-log", str(log)]) == 2  # a broken log is not summarised
