"""Patient-level splits: no patient in two splits, stratified, fixed by seed, recorded with hashes.

Each stratum (site, manufacturer or everything) is split on its own: its patients are sorted,
shuffled with a generator seeded by ``seed`` and the stratum name, and cut into test, val and
train. Patients are sorted by the content hash of their cases (the smallest ``sha256`` of the
preprocessed arrays), not by their pseudonym, and cases are recorded in content-hash order: the
pseudonyms depend on the de-identification key, the arrays do not, so the same data gives the
same split and the same training order under any key (a fresh clone creates a new key).
A patient's follow-up studies therefore always share a split, and adding patients to
one site never moves patients of another. The test split is locked: only V&V reads it
(``pipeline.data.cache.load_cases`` refuses it to everyone else).

The patients of the sites named in ``external_sites`` form a fourth split, ``external``, before
any stratum is cut: a held-out cohort from sites and scanners that no training or validation
case comes from (the FDA's and the MDR's "external validation"), locked like the test split.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pipeline.core.errors import UserError
from pipeline.preprocess.params import SplitParams

SPLITS = ("train", "val", "test", "external")
LOCKED = ["test", "external"]


def make_splits(cases: list[dict], params: SplitParams) -> dict:
    """Assign every case to train, val or test by its patient.

    Args:
        cases: case records with ``case_id``, ``patient_id``, ``sha256`` and the stratum key.
        params: the ``preprocess.splits`` params.
    """
    external = set(params.external_sites)
    unknown = sorted(external - {str(case.get("site")) for case in cases})
    if unknown:
        raise UserError(f"preprocess.splits.external_sites names site(s) no case comes from: {unknown}")
    strata: dict[str, set[str]] = defaultdict(set)
    content: dict[str, str] = {}
    patient_split: dict[str, str] = {}
    for case in cases:
        if str(case.get("site")) in external:
            patient_split[case["patient_id"]] = "external"
            continue
        strata[_stratum(case, params.stratify_by)].add(case["patient_id"])
        content[case["patient_id"]] = min(content.get(case["patient_id"], case["sha256"]), case["sha256"])
    mixed = sorted(set(patient_split) & set(content))
    if mixed:
        raise UserError(f"patient(s) {mixed[:3]} have studies from an external site and from a development "
                        f"site: an external split must hold whole patients")
    for name in sorted(strata):
        patients = sorted(strata[name], key=lambda patient: (content[patient], patient))
        random.Random(f"{params.seed}:{name}").shuffle(patients)
        n_test = _count(len(patients), params.test_fraction)
        n_val = _count(len(patients) - n_test, params.val_fraction / (1 - params.test_fraction))
        for index, patient in enumerate(patients):
            patient_split[patient] = "test" if index < n_test else "val" if index < n_test + n_val else "train"
    record = {split: [] for split in SPLITS}
    for case in sorted(cases, key=lambda c: (c["sha256"], c["case_id"])):
        record[patient_split[case["patient_id"]]].append(
            {"case_id": case["case_id"], "patient_id": case["patient_id"], "sha256": case["sha256"],
             "stratum": _stratum(case, params.stratify_by)})
    check_independent(record)
    return {"seed": params.seed, "stratify_by": params.stratify_by,
            "val_fraction": params.val_fraction, "test_fraction": params.test_fraction,
            "external_sites": sorted(external), "locked": list(LOCKED), "splits": record,
            "counts": {split: {"cases": len(record[split]),
                               "patients": len({c["patient_id"] for c in record[split]})}
                       for split in SPLITS}}


def check_independent(record: dict[str, list[dict]]) -> None:
    """Raise ``ValueError`` if a patient or a case appears in more than one split."""
    seen: dict[str, str] = {}
    for split, cases in record.items():
        for case in cases:
            for key in ("patient_id", "case_id"):
                other = seen.setdefault(f"{key}:{case[key]}", split)
                if other != split:
                    raise ValueError(f"{key} {case[key]} is in both {other} and {split}")


def _count(n: int, fraction: float) -> int:
    """round(n * fraction), at least 1 when the stratum has 3+ patients, never all of them."""
    count = int(round(n * fraction))
    if n >= 3:
        count = max(count, 1)
    return min(count, max(n - 1, 0))


def _stratum(case: dict, key: str) -> str:
    return "all" if key == "none" else str(case.get(key, "unknown"))
