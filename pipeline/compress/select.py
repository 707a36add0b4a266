"""Choose the shipped compressed model and its runtime from measured candidates, and say why.

Every candidate is judged on each runtime against the teacher on that same runtime:

* accuracy: the paired per-case validation Dice drop (teacher minus candidate, each with its
  own post-processing), its mean and 95 % percentile bootstrap interval (patients resampled).
  The mean must not exceed ``max_dice_drop``; the interval is recorded beside it, because with
  about a dozen validation cases a difference of two means alone hides how uncertain it is;
* speed: the teacher's per-volume sliding-window time over the candidate's, at least
  ``min_speedup``;
* size: the teacher's file bytes over the candidate's, at least ``min_size_reduction``;
* runtime: on that runtime the candidate is not slower per volume than torch eager on its own
  PyTorch weights (the product's inference path must not lose to the framework it exports from),
  beyond ``eager_tie`` of torch's time: between two processes, with the same weights and code, the
  shipped student measured ONNX Runtime at 1.18x and at 0.94x torch eager, so a strict comparison
  decided the release by timing noise;
* parity: on that runtime both the candidate and the teacher pass the export stage's parity gate
  against their PyTorch weights on the validation cases (a runtime that does not compute what
  the network computes cannot ship it; OpenVINO's CPU plugin was 20-40x further from a float64
  reference than torch on the default networks and failed the 1e-4 gate).

Among the eligible (candidate, runtime) pairs, those within ``speed_tie`` of the fastest per
volume count as equally fast (two networks of one architecture differ only by timing noise), and
of them the one with the smallest mean paired Dice drop ships (then the faster, then the smaller
file). When none is eligible, nothing is shipped as "compressed": ``chosen`` is None, the
reason names what each candidate missed, and the teacher alone is released on its fastest
runtime. A failed or non-shippable candidate is recorded with its reason, never chosen.
"""

from __future__ import annotations

from pipeline.core.bootstrap import bootstrap_mean

TEACHER = "teacher"


def paired_drop(teacher: dict[str, float], candidate: dict[str, float], clusters: dict[str, str],
                samples: int, seed: int) -> dict:
    """Mean of the per-case differences ``teacher - candidate`` with its 95 % bootstrap interval.

    Args:
        teacher: case_id -> the teacher's Dice.
        candidate: case_id -> the candidate's Dice (same cases).
        clusters: case_id -> patient (cases of one patient are resampled together).
        samples: bootstrap resamples.
        seed: bootstrap seed.
    """
    if set(teacher) != set(candidate):
        raise ValueError("teacher and candidate were measured on different cases")
    cases = list(teacher)
    estimate = bootstrap_mean([teacher[c] - candidate[c] for c in cases], [clusters.get(c, c) for c in cases],
                              samples, seed)
    return {"mean": _round(estimate.mean), "ci_lower": _round(estimate.ci_lower),
            "ci_upper": _round(estimate.ci_upper), "n": estimate.n, "patients": estimate.n_clusters,
            "level": estimate.level}


def choose(rows: list[dict], selection, clusters: dict[str, str], samples: int, seed: int) -> dict:
    """Judge every measured row and pick the shipped (candidate, runtime), or none.

    Args:
        rows: measured rows with ``name``, ``runtime``, ``bytes``, ``volume_ms``, ``per_case``,
            ``val_dice``, ``shippable`` (and ``not_shippable_because``) or ``error``; the teacher's
            rows are named ``teacher``.
        selection: the ``compress.selection`` params.
        clusters: case_id -> patient of the validation cases.
        samples: bootstrap resamples.
        seed: bootstrap seed.
    Returns:
        ``chosen`` (row key ``name@runtime`` or None), ``candidate``, ``runtime``,
        ``teacher_runtime``, ``reason`` and per-row ``judgements``.
    """
    measured = {r["runtime"]: r for r in rows if r["name"] == TEACHER and not r.get("error")}
    teachers = {rt: r for rt, r in measured.items() if not parity_problem(r, selection)}
    if not teachers:
        raise ValueError("the teacher passes the parity gate on no runtime: "
                         + "; ".join(f"{rt}: {parity_problem(r, selection)}" for rt, r in measured.items()))
    judgements, eligible = {}, []
    for row in rows:
        if row["name"] == TEACHER:
            judgements[key(row)] = {"verdict": "reference" if row["runtime"] in teachers else
                                    f"not a release runtime: {parity_problem(row, selection) or row.get('error')}"}
            continue
        judgement = _judge(row, teachers.get(row["runtime"]), selection, clusters, samples, seed)
        judgements[key(row)] = judgement
        if judgement["verdict"] == "eligible":
            eligible.append(row)
    fastest_teacher = min(teachers.values(), key=lambda r: r["volume_ms"])
    if not eligible:
        return {"chosen": None, "candidate": None, "runtime": fastest_teacher["runtime"],
                "teacher_runtime": fastest_teacher["runtime"], "judgements": judgements,
                "reason": "no candidate met every target (" + _targets(selection) + "): nothing is "
                          "released as a compressed model; the teacher ships alone, on "
                          f"{fastest_teacher['runtime']} (its fastest runtime)"}
    fastest = min(r["volume_ms"] for r in eligible)
    tied = [r for r in eligible if r["volume_ms"] <= fastest * (1.0 + selection.speed_tie)]
    best = min(tied, key=lambda r: (judgements[key(r)]["dice_drop"]["mean"], r["volume_ms"], r["bytes"]))
    judgements[key(best)]["verdict"] = "chosen"
    chosen = judgements[key(best)]
    drop = chosen["dice_drop"]
    how = ("the fastest candidate" if len(tied) == 1 else
           f"of the {len(tied)} candidates within {selection.speed_tie:.0%} of the fastest time per volume, "
           "the one with the smallest paired val Dice drop")
    reason = (f"{best['name']} on {best['runtime']} is {how} meeting every target "
              f"({_targets(selection)}): {best['volume_ms']:.1f} ms per volume vs the teacher's "
              f"{teachers[best['runtime']]['volume_ms']:.1f} ms ({chosen['speedup']:.2f}x), "
              f"{chosen['size_reduction']:.2f}x smaller, paired val Dice drop {drop['mean']:+.4f} "
              f"(95 % CI {drop['ci_lower']:+.4f} to {drop['ci_upper']:+.4f}, {drop['n']} cases)")
    return {"chosen": key(best), "candidate": best["name"], "runtime": best["runtime"],
            "teacher_runtime": best["runtime"], "judgements": judgements, "reason": reason}


def key(row: dict) -> str:
    """The identifier of a measured row: ``name@runtime``."""
    return f"{row['name']}@{row['runtime']}"


def _judge(row: dict, teacher: dict | None, selection, clusters, samples: int, seed: int) -> dict:
    if row.get("error"):
        return {"verdict": f"failed: {row['error']}"}
    if teacher is None:
        return {"verdict": f"not comparable: the teacher cannot ship on {row['runtime']} (error or parity)"}
    drop = paired_drop(teacher["per_case"], row["per_case"], clusters, samples, seed)
    speedup = round(teacher["volume_ms"] / row["volume_ms"], 3)
    size = round(teacher["bytes"] / row["bytes"], 3)
    missed = []
    if not row.get("shippable", True):
        missed.append(f"not shippable: {row.get('not_shippable_because', 'unknown reason')}")
    if drop["mean"] > selection.max_dice_drop:
        missed.append(f"paired val Dice drop {drop['mean']:+.4f} > {selection.max_dice_drop}")
    if speedup < selection.min_speedup:
        missed.append(f"{speedup:.2f}x faster per volume < {selection.min_speedup}x")
    if size < selection.min_size_reduction:
        missed.append(f"{size:.2f}x smaller < {selection.min_size_reduction}x")
    problem = parity_problem(row, selection)
    if problem:
        missed.append(problem)
    eager = row.get("torch_eager_volume_ms")
    if eager is not None and row["volume_ms"] > eager * (1.0 + selection.eager_tie):
        missed.append(f"{row['runtime']} slower than torch eager on the same model "
                      f"({row['volume_ms']:.1f} vs {eager:.1f} ms per volume, beyond the "
                      f"{selection.eager_tie:.0%} timing tie)")
    return {"verdict": "eligible" if not missed else "; ".join(missed), "dice_drop": drop,
            "speedup": speedup, "size_reduction": size}


def parity_problem(row: dict, selection) -> str | None:
    """Why a measured FP32 row fails the export parity gate on its runtime, or None."""
    parity = row.get("parity")
    if not parity:
        return None
    if parity["max_abs_diff"] > selection.parity_atol or parity["argmax_mismatches"] > selection.max_argmax_mismatches:
        return (f"parity on {row['runtime']}: max |logit diff| {parity['max_abs_diff']:.2e} "
                f"(gate {selection.parity_atol:.0e}), {parity['argmax_mismatches']} argmax mismatches")
    return None


def _targets(selection) -> str:
    return (f"paired val Dice drop <= {selection.max_dice_drop}, >= {selection.min_speedup}x faster per "
            f"volume, >= {selection.min_size_reduction}x smaller")


def _round(value: float) -> float | None:
    return None if value != value else round(value, 6)
