"""The paired randomization test over seeds, Holm's correction and the studentized bootstrap interval of an effect
(docs/statistics.md).

Seeds are paired across optimizers (same initialization stream and data order), so under the
null "A and B do not differ" A's and B's results of one seed are exchangeable. For per-seed
values a_j and b_j, swapping the two of seed j flips the sign of d_j = a_j - b_j; the effect
T = mean_j d_j recomputed under every one of the 2^m swap patterns is its exact null
distribution (a Monte Carlo sample of patterns when m > EXACT_SEEDS). When the effect is not a
sum of per-seed terms (the cross-fitted best loss: seed j's term depends on the point chosen on
the other seeds), the swaps are applied to the raw results and the effect recomputed
(swap_pvalues), which is exact as well.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

EXACT_SEEDS = 12  # up to 2^12 = 4096 patterns, enumerated
MONTE_CARLO_DRAWS = 9999  # patterns drawn beyond that (the observed one is added: p >= 1 / 10000)


def sign_patterns(m: int, seed: int = 0) -> np.ndarray:
    """(K, m) of +-1: all 2^m patterns for m <= EXACT_SEEDS (the first is all +1, the observed
    assignment), else the all-ones row plus MONTE_CARLO_DRAWS random rows."""
    if m <= EXACT_SEEDS:
        return np.array(list(itertools.product((1.0, -1.0), repeat=m))).reshape(-1, m)
    rng = np.random.default_rng([seed, m])
    draws = rng.choice((1.0, -1.0), size=(MONTE_CARLO_DRAWS, m))
    return np.vstack([np.ones((1, m)), draws])


def t_statistic(d: np.ndarray) -> np.ndarray:
    """(K, m) per-seed effects -> (K,) studentized mean, mean / (sd / sqrt(m)) (sd with m - 1);
    +-inf when every seed agrees exactly (sd = 0), 0 when they are all 0. Studentizing makes the
    test robust to swapped data that mix A's and B's results into inconsistent per-seed effects:
    those get a large sd and a small statistic, where consistent effects get a large one."""
    m = d.shape[1]
    mean = np.nanmean(d, axis=1)
    sd = np.nanstd(d, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(m))
    agree = np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, 0.0))
    return np.where(sd > 1e-12 * np.maximum(np.abs(mean), 1e-300), t, agree)


def _pvalues(t: np.ndarray) -> tuple[float, float]:
    """(greater, less) from statistics t over patterns, t[0] the observed one; ties count (to a
    relative 1e-9), so a discrete statistic is never anti-conservative."""
    finite = np.abs(t[np.isfinite(t)])
    tol = 1e-9 * max(float(finite.max(initial=0.0)), 1e-300)
    return float(np.mean(t >= t[0] - tol)), float(np.mean(t <= t[0] + tol))


def sign_flip_pvalues(d: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """One-sided p-values (greater, less) of the studentized mean of d under the sign-flip null
    distribution: p_greater = P(T_s >= T_obs), p_less = P(T_s <= T_obs) over the patterns s.
    d: (m,) finite."""
    d = np.asarray(d, dtype=float)
    return _pvalues(t_statistic(sign_patterns(d.size, seed) * d[None, :]))


def swap_pvalues(xa: np.ndarray, xb: np.ndarray, statistic, seed: int = 0) -> tuple[float, float]:
    """One-sided p-values (greater, less) of statistic(A, B) when A's and B's results of a seed are
    swapped, seed by seed, and the statistic recomputed (for a statistic that is not a sum of
    per-seed terms, e.g. one that selects a grid point on some seeds and scores it on others).
    xa, xb: (P, m) results per grid point and seed, on the same grid; statistic maps (K, P, m)
    arrays of A and B to (K,)."""
    m = xa.shape[1]
    swap = sign_patterns(m, seed)[:, None, :] < 0  # (K, 1, m); row 0: the observed
    return _pvalues(statistic(np.where(swap, xb, xa), np.where(swap, xa, xb)))


def smallest_p(m: int) -> float:
    """The smallest p-value m paired seeds can give (all d_j of one sign)."""
    return 2.0**-m if m <= EXACT_SEEDS else 1.0 / (MONTE_CARLO_DRAWS + 1)


def seeds_needed(level: float) -> int:
    """Fewest seeds whose smallest p-value, 2^-m, reaches ``level``."""
    return max(1, math.ceil(math.log2(1.0 / level) - 1e-12))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values over the finite entries of p (NaN stays NaN):
    adj_(i) = max_{j <= i} min(1, (F - j + 1) p_(j)), F = number of finite p-values."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    F = len(order)
    scaled = np.minimum(1.0, (F - np.arange(F)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def studentized_interval(d: np.ndarray, confidence: float, resamples: int, seed: int = 0) -> tuple[float, float]:
    """Studentized (bootstrap-t) interval of mean(d), resampling whole seeds (Efron & Tibshirani
    1993, ch. 12): t*_r = (mean*_r - mean) / se*_r over the resamples, and

        [mean - q_hi se, mean - q_lo se],   se = sd(d) / sqrt(m), q = quantiles of t*

    taken as order statistics rounded outwards. A resample that draws one seed only has se* = 0
    and t* = +-inf: with 3 seeds that is 1 resample in 9, so the interval is infinite, as it
    should be. q_lo <= 0 <= q_hi is enforced, so the estimate lies inside its interval.
    Unlike a percentile interval it keeps its coverage with few seeds (95.1% at 5 and 8 seeds
    on normal data, against 84% and 89% for BCa)."""
    d = np.asarray(d, dtype=float)
    m = d.size
    theta = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(m) if m > 1 else 0.0
    if se == 0.0:
        return theta, theta
    rng = np.random.default_rng([seed, m])
    draws = d[rng.integers(0, m, size=(resamples, m))]
    diff = draws.mean(axis=1) - theta
    se_star = draws.std(axis=1, ddof=1) / math.sqrt(m)
    spread = 1e-9 * float(np.abs(d).max())  # below this a resample has no spread (rounding only)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se_star > spread, diff / se_star, np.where(np.abs(diff) > spread, np.sign(diff) * np.inf, 0.0))
    t = np.sort(t)
    lo_q = min(float(t[int(math.floor((1 - confidence) / 2 * (resamples - 1)))]), 0.0)
    hi_q = max(float(t[int(math.ceil((1 + confidence) / 2 * (resamples - 1)))]), 0.0)
    return theta - hi_q * se, theta - lo_q * se
