"""Bootstrap over seeds: whole seeds are resampled, so every trial of a seed moves together.

A resample of a task with m seeds draws m seeds with replacement; it is represented by how many
times each seed was drawn (a row of counts). Every optimizer of the task sees the same draws, so
differences between optimizers are paired. The point estimate is the row of ones (every seed
once). A task's resamples are drawn from numpy's default_rng([seed, crc32(task)]): the same
numbers whatever else is analysed alongside.

With few seeds many resamples coincide (m = 5 seeds give at most 126 distinct rows), so the
metrics are computed once per distinct row and expanded back.
"""

from __future__ import annotations

import zlib

import numpy as np


def seed_counts(n_seeds: int, resamples: int, seed: int, task: str) -> np.ndarray:
    """(resamples, n_seeds) counts: how often each seed is drawn in each resample."""
    rng = np.random.default_rng([seed, zlib.crc32(task.encode())])
    draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    counts = np.zeros((resamples, n_seeds), dtype=np.int64)
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1)
    return counts


def distinct_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, inverse) with rows[0] the point estimate (all ones) and rows[1:][inverse] == counts."""
    unique, inverse = np.unique(counts, axis=0, return_inverse=True)
    ones = np.ones((1, counts.shape[1]), dtype=counts.dtype)
    return np.vstack([ones, unique]), inverse.reshape(-1)


def weighted_median(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each row of ``values`` (P, m) when value j is repeated counts[r, j] times.

    values: NaN = missing (ignored). counts: (u, m) non-negative ints. Returns (u, P); NaN where a
    row has no drawn value. Equals np.median of the expanded multiset (mean of the two middle
    elements when the total count is even)."""
    order = np.argsort(values, axis=1)  # NaN last
    v = np.take_along_axis(values, order, axis=1)
    c = counts[:, order] * np.isfinite(v)[None]  # (u, P, m)
    cum = np.cumsum(c, axis=2)
    total = cum[..., -1]
    lower = np.sum(cum <= ((total - 1) // 2)[..., None], axis=2)  # index of the lower middle
    upper = np.sum(cum <= (total // 2)[..., None], axis=2)
    m = values.shape[1]
    rows = np.arange(values.shape[0])[None, :]
    med = 0.5 * (v[rows, np.minimum(lower, m - 1)] + v[rows, np.minimum(upper, m - 1)])
    return np.where(total > 0, med, np.nan)


def interval(reps: np.ndarray, confidence: float) -> tuple:
    """Percentile interval (numpy's default linear interpolation) of bootstrap replicates along
    the last axis, NaN replicates ignored (NaN when none is finite).
    reps: (R,) -> two floats; (n, R) -> two (n,) arrays."""
    a = np.sort(np.where(np.isfinite(reps), reps, np.nan), axis=-1)  # NaN last
    a2 = np.atleast_2d(a)
    n = np.isfinite(a2).sum(axis=1)
    rows = np.arange(a2.shape[0])
    ends = []
    for q in ((1 - confidence) / 2, (1 + confidence) / 2):
        pos = q * np.maximum(n - 1, 0)
        below = np.floor(pos).astype(int)
        above = np.minimum(below + 1, np.maximum(n - 1, 0))
        value = a2[rows, below] + (pos - below) * (a2[rows, above] - a2[rows, below])
        ends.append(np.where(n > 0, value, np.nan))
    return (float(ends[0][0]), float(ends[1][0])) if a.ndim == 1 else (ends[0], ends[1])
