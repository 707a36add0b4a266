"""Membership inference by a loss threshold (Yeom et al., CSF 2018): the attack AUC and its interval.

An attacker who holds a patient's image and its reference segmentation computes the released
model's loss on it and calls the patient a training member when the loss is low. How well that
separates members (training split) from non-members (the locked test split: patients of the same
population never used in development) is the area under the ROC curve of the score ``-loss``:
0.5 is chance, 1.0 is perfect identification. The AUC is the Mann-Whitney probability that a
random member scores above a random non-member (ties count one half). Its 95 % interval is a
seeded percentile bootstrap that resamples patients within each group (a patient's studies are
not independent). Scores that are NaN are left out and counted; with fewer than ``min_cases``
scores in a group the AUC is not estimated (NaN): the data cannot show the risk either way.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pipeline.core.bootstrap import Estimate


def auc(members: Sequence[float], nonmembers: Sequence[float]) -> float:
    """P(member score > non-member score) + 0.5 P(tie); NaN scores left out; NaN without both groups.

    Args:
        members: attack scores of training cases (higher = more member-like).
        nonmembers: attack scores of held-out cases.
    """
    m, n = _defined(members), _defined(nonmembers)
    if m.size == 0 or n.size == 0:
        return math.nan
    return float(_pairwise(m, n).mean())


def bootstrap_auc(members: Sequence[float], member_patients: Sequence[str], nonmembers: Sequence[float],
                  nonmember_patients: Sequence[str], samples: int, seed: int, level: float = 0.95,
                  min_cases: int = 2) -> Estimate:
    """The attack AUC with a percentile bootstrap interval, patients resampled within each group.

    Args:
        members: member scores (NaN left out).
        member_patients: the patient of each member score.
        nonmembers: non-member scores (NaN left out).
        nonmember_patients: the patient of each non-member score.
        samples: bootstrap resamples (>= 1).
        seed: seed of the numpy generator.
        level: two-sided confidence level.
        min_cases: fewer defined scores than this in either group -> NaN estimate.
    Returns:
        an ``Estimate`` whose ``mean`` is the AUC, ``n`` the scores used and ``n_clusters`` the patients.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    m, m_keys = _with_keys(members, member_patients)
    n, n_keys = _with_keys(nonmembers, nonmember_patients)
    if m.size < max(min_cases, 1) or n.size < max(min_cases, 1):
        return Estimate(math.nan, math.nan, math.nan, int(m.size + n.size),
                        len(set(m_keys)) + len(set(n_keys)), level, samples, seed)
    table = _pairwise(m, n)
    rng = np.random.default_rng(seed)
    m_weights, n_weights = _cluster_weights(m_keys, samples, rng), _cluster_weights(n_keys, samples, rng)
    draws = np.einsum("si,ij,sj->s", m_weights, table, n_weights) / (m_weights.sum(1) * n_weights.sum(1))
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(draws, [alpha, 1.0 - alpha])
    return Estimate(float(table.mean()), float(lower), float(upper), int(m.size + n.size),
                    len(set(m_keys)) + len(set(n_keys)), level, samples, seed)


def gap(members: Sequence[float], nonmembers: Sequence[float]) -> float:
    """Mean member score minus mean non-member score (NaN left out; NaN without both groups)."""
    m, n = _defined(members), _defined(nonmembers)
    return float(m.mean() - n.mean()) if m.size and n.size else math.nan


def _defined(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    return data[np.isfinite(data)]


def _with_keys(values: Sequence[float], keys: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    data = np.asarray(values, dtype=float)
    keys = [str(k) for k in keys]
    if len(keys) != data.size:
        raise ValueError(f"{len(keys)} patient keys for {data.size} scores")
    keep = np.isfinite(data)
    return data[keep], [k for k, ok in zip(keys, keep) if ok]


def _pairwise(members: np.ndarray, nonmembers: np.ndarray) -> np.ndarray:
    """1 where the member scores above the non-member, 0.5 on a tie, else 0 (members x non-members)."""
    diff = members[:, None] - nonmembers[None, :]
    return (diff > 0).astype(float) + 0.5 * (diff == 0)


def _cluster_weights(keys: list[str], samples: int, rng: np.random.Generator) -> np.ndarray:
    """Per resample, how often each case's patient was drawn (samples x cases); patients numbered
    in order of first appearance (pseudonyms differ between clones, the order does not)."""
    order = {key: index for index, key in enumerate(dict.fromkeys(keys))}
    index = np.asarray([order[k] for k in keys], dtype=int)
    draws = rng.integers(0, len(order), size=(samples, len(order)))
    counts = np.zeros((samples, len(order)))
    np.add.at(counts, (np.arange(samples)[:, None], draws), 1.0)
    return counts[:, index]
