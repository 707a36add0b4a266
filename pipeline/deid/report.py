"""Quarantine folder and the stage report (counts only, no PHI, never the key).

The quarantine holds copies of the files that were not de-identified, under the reason, named
by a hash of their content, with an ``index.json`` naming each file's source path relative to
the input folder. Those source paths can carry identifiers (hospital exports put patient IDs
in folder names), so the quarantine belongs to the identified zone, like the input itself,
and is never published; the report carries counts only.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.atomic import dumps_json
from pipeline.core.errors import UserError


@dataclass
class Quarantine:
    """Copies bad or unsafe inputs into ``root/<reason>/`` and remembers why."""

    root: Path
    input_root: Path
    reasons: Counter = field(default_factory=Counter)
    index: list[dict] = field(default_factory=list)

    def add(self, path: Path, reason: str, detail: str = "") -> None:
        """Quarantine one input file.

        Args:
            path: the input file.
            reason: a short machine-readable reason (e.g. ``not_dicom``).
            detail: optional extra (an exception type, never a value from the file).
        """
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]
        target = self.root / reason / f"{digest}.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        self.reasons[reason] += 1
        entry = {"file": target.relative_to(self.root).as_posix(), "reason": reason,
                 "source": Path(path).relative_to(self.input_root).as_posix()}
        if detail:
            entry["detail"] = detail
        self.index.append(entry)

    def write_index(self) -> None:
        """Write ``index.json`` (sorted, stable)."""
        self.root.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.index, key=lambda entry: entry["source"])
        (self.root / "index.json").write_text(dumps_json({"files": ordered, "reasons": dict(sorted(self.reasons.items()))}))


def build_report(files_in: int, written: int, quarantine: Quarantine, extra: dict) -> dict:
    """The report; ``files_in == written + quarantined`` is checked here.

    Args:
        files_in: input files seen.
        written: de-identified files written.
        quarantine: the quarantine of this run.
        extra: further PHI-free facts (profile, counts, leak check summary).
    """
    quarantined = sum(quarantine.reasons.values())
    if files_in != written + quarantined:
        raise RuntimeError(f"report does not add up: in {files_in} != written {written} + quarantined {quarantined}")
    return {
        "files_in": files_in,
        "written": written,
        "quarantined": quarantined,
        "quarantined_by_reason": dict(sorted(quarantine.reasons.items())),
        "quarantined_share": round(quarantined / files_in, 6) if files_in else 0.0,
        **extra,
    }


def check_ceiling(report: dict, ceiling: float, index: Path | None = None) -> None:
    """Fail with a clear message when more than ``ceiling`` of the files were quarantined.

    Args:
        report: the stage report.
        ceiling: ``deid.max_quarantined_share`` from params.
        index: the quarantine index to point the user at (it is kept when the run is refused).
    """
    if report["files_in"] and report["quarantined_share"] > ceiling:
        reasons = ", ".join(f"{k}: {v}" for k, v in report["quarantined_by_reason"].items())
        where = f"see the quarantine index {index}" if index is not None else "see the quarantine index"
        raise UserError(
            f"deid: {report['quarantined']} of {report['files_in']} files quarantined "
            f"(share {report['quarantined_share']:.3f}) exceeds deid.max_quarantined_share = {ceiling} "
            f"({reasons}); {where}, fix the inputs or raise the ceiling in params.yaml"
        )
