"""The robustness metrics of docs/statistics.md as array functions.

Every function takes a leading axis of rows (the point estimate and bootstrap resamples) and
is vectorised over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------------------------
# 2. Basin width
# ---------------------------------------------------------------------------------------------


@dataclass
class Basin:
    width: np.ndarray     # high - low (decades when x is log10 lr)
    low: np.ndarray       # left end of the basin on the x axis
    high: np.ndarray      # right end
    cut_low: np.ndarray   # bool: the basin reaches the grid's first point (low is not a crossing)
    cut_high: np.ndarray  # bool: the basin reaches the grid's last point


def basin(x: np.ndarray, loss: np.ndarray, threshold: np.ndarray) -> Basin:
    """Contiguous interval around the optimum where loss <= threshold, in the units of x.

    x: (u, n) or (n,) increasing grid coordinates (log10 lr), NaN padding at the right end.
    loss: (u, n) loss at those points (padding: +inf or NaN). threshold: (u,).
    The interval is the run of grid points i with loss_i <= threshold that contains the argmin,
    extended on each side to where the straight line between the last point inside and the
    first point outside crosses the threshold (linear interpolation of the loss in x). A run that
    reaches the grid's first (last) point stops there and is flagged cut: a lower bound.
    """
    loss = np.where(np.isfinite(loss), loss, np.inf)
    u, n = loss.shape
    x = np.broadcast_to(x, (u, n))
    valid = np.isfinite(x) & np.isfinite(loss)
    last = n - 1 - np.argmax(valid[:, ::-1], axis=1)       # last valid grid index per row
    rows = np.arange(u)
    best = np.argmin(loss, axis=1)
    t = threshold[:, None]
    inside = loss <= t
    i = np.arange(n)[None, :]
    a = np.max(np.where(~inside & (i < best[:, None]), i, -1), axis=1) + 1
    b = np.min(np.where(~inside & (i > best[:, None]), i, n), axis=1) - 1
    cut_low, cut_high = a == 0, b >= last

    def crossing(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
        xi, xo = x[rows, inner], x[rows, outer]
        li, lo = loss[rows, inner], loss[rows, outer]
        with np.errstate(invalid="ignore", divide="ignore"):
            return xi + (xo - xi) * (threshold - li) / (lo - li)

    low = np.where(cut_low, x[rows, a], crossing(a, np.maximum(a - 1, 0)))
    high = np.where(cut_high, x[rows, np.minimum(b, last)], crossing(b, np.minimum(b + 1, n - 1)))
    return Basin(width=high - low, low=low, high=high, cut_low=cut_low, cut_high=cut_high)


# ---------------------------------------------------------------------------------------------
# 3. LR sensitivity (Wortsman et al. 2023)
# ---------------------------------------------------------------------------------------------


def lr_sensitivity(log_lr: np.ndarray, loss: np.ndarray, l0: float, lstar: np.ndarray,
                   lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the grid points with log10 lr in [lo, hi] of min(loss, l0) - l*.

    Returns (value, cut): cut is True where [lo, hi] reaches past the grid's ends, so the mean
    covers less of the range than asked for."""
    tol = 1e-9
    inside = np.isfinite(log_lr) & np.isfinite(loss) & (log_lr >= lo[:, None] - tol) & (log_lr <= hi[:, None] + tol)
    gap = np.where(inside, np.minimum(loss, l0) - lstar[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = gap.sum(axis=1) / inside.sum(axis=1)
    grid_lo = np.nanmin(np.where(np.isfinite(loss), log_lr, np.nan), axis=1)
    grid_hi = np.nanmax(np.where(np.isfinite(loss), log_lr, np.nan), axis=1)
    cut = (lo < grid_lo - tol) | (hi > grid_hi + tol)
    return value, cut


# ---------------------------------------------------------------------------------------------
# 4. Expected best after k trials (Dodge et al. 2019); 5. tunability (Sivaprasad et al. 2020)
# ---------------------------------------------------------------------------------------------


def survival(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort the N values ascending; S[r, i] = P(one draw is at or above the i-th smallest).

    weights (u, N): how often each value counts in row r (all ones: the plain sample). S has a
    last column of zeros (S_{N+1} = 0). With equal weights S_i = (N - i + 1) / N."""
    order = np.argsort(values)
    v = values[order]
    w = weights[:, order].astype(float)
    tail = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = tail / tail[:, :1]
    return v, np.hstack([s, np.zeros((s.shape[0], 1))])


def expected_min(v: np.ndarray, s: np.ndarray, k: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """E[min of k draws with replacement] and its variance.

    E = sum_i v_i (S_i^k - S_{i+1}^k); Var = sum_i v_i^2 (same weights) - E^2.
    k: an int, a (K,) array (-> (u, K)), or a (u, 1) array of one k per row (-> (u, 1))."""
    k = np.asarray(k, dtype=float)
    kk = k.reshape(1, 1, -1) if k.ndim <= 1 else k[:, None, :]
    sk = s[:, :, None] ** kk                                   # (u, N + 1, K)
    p = sk[:, :-1] - sk[:, 1:]                                 # P(min of k is the i-th smallest)
    mean = np.einsum("n,unk->uk", v, p)
    second = np.einsum("n,unk->uk", v * v, p)
    return mean, np.maximum(second - mean * mean, 0.0)


def power_sums(x: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """U(x) = sum_{k=1..K} x^k and V(x) = sum_{k=1..K} k x^k (closed forms; x in [0, 1])."""
    K = budget
    one = x >= 1.0
    y = np.where(one, 0.5, x)  # placeholder where x == 1 (replaced below)
    xK = y**K
    u_sum = y * (1 - xK) / (1 - y)
    v_sum = y * (1 - (K + 1) * xK + K * xK * y) / (1 - y) ** 2
    return np.where(one, K, u_sum), np.where(one, K * (K + 1) / 2, v_sum)


def cumulative_performance(v: np.ndarray, s: np.ndarray, budget: int) -> dict[str, np.ndarray]:
    """Sivaprasad's CP = sum_k w_k P(k) / sum_k w_k over k = 1..K, with P(k) = expected_min(k),
    for the three weightings: early w_k = K - k + 1, uniform w_k = 1, late w_k = k.

    P(k) is linear in the S_i^k, so CP = sum_i v_i (G(S_i) - G(S_{i+1})) with
    G(x) = sum_k w_k x^k / sum_k w_k, a closed-form power sum."""
    K = budget
    u_sum, v_sum = power_sums(s, K)
    g = {"uniform": u_sum / K, "late": v_sum / (K * (K + 1) / 2),
         "early": ((K + 1) * u_sum - v_sum) / (K * (K + 1) / 2)}
    return {name: (gx[:, :-1] - gx[:, 1:]) @ v for name, gx in g.items()}


def alpha_tunability(v: np.ndarray, s: np.ndarray, budget: int, alpha: float) -> np.ndarray:
    """Fraction of the budget K needed to get within alpha of the peak: min{k: P(k) <= P(K) +
    alpha |P(K)|} / K (P(k) never increases with k, so the first such k is found by bisection)."""
    K = budget
    peak = expected_min(v, s, K)[0][:, 0]
    target = peak + alpha * np.abs(peak)
    lo = np.zeros_like(peak, dtype=int)          # P(lo) above target (P(0): no trial yet)
    hi = np.full_like(peak, K, dtype=int)        # P(hi) <= target
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = expected_min(v, s, np.maximum(mid, 1)[:, None])[0][:, 0] <= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return np.where(np.isfinite(peak), hi / K, np.nan)
