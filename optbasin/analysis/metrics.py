"""The robustness metrics of the analysis (docs/statistics.md) as array functions.

Every function takes a leading axis of rows (the point estimate, bootstrap resamples, or single
seeds) and is vectorised over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Grid lrs are stored to 6 significant digits (config.LogRange), about 2e-6 decades off the exact
# log-spaced value: windows in log10 lr are compared with this tolerance, in decades.
DECADE_TOL = 1e-3

# ---------------------------------------------------------------------------------------------
# 2. Basin width
# ---------------------------------------------------------------------------------------------


@dataclass
class Basin:
    width: np.ndarray  # high - low (decades when x is log10 lr); 0 when no point qualifies
    low: np.ndarray  # left end of the basin on the x axis
    high: np.ndarray  # right end
    cut_low: np.ndarray  # bool: the basin reaches the grid's first point (low is not a crossing)
    cut_high: np.ndarray  # bool: the basin reaches the grid's last point
    disjoint: np.ndarray  # bool: several separate intervals qualify (the widest is reported)
    width_min: np.ndarray | None = None  # what the grid allows: between the outermost points inside
    width_max: np.ndarray | None = None  # and the first points outside (inf where the run is cut)
    gaps: np.ndarray | None = None  # (u, 2, 2): [low, high edge] x [x inside, x outside]; NaN where cut or none

    @property
    def step(self) -> np.ndarray:
        """(u,) the larger of the two gaps holding an uncut edge (NaN: both cut, or no basin)."""
        return edge_step(self.gaps)


def edge_step(gaps: np.ndarray) -> np.ndarray:
    """(..., 2, 2) edge gaps (Basin.gaps) -> (...,) the wider of the two, NaN when neither is known."""
    width = np.abs(gaps[..., 1] - gaps[..., 0])
    with np.errstate(invalid="ignore"):
        return np.fmax(width[..., 0], width[..., 1])


def basin(x: np.ndarray, loss: np.ndarray, threshold: np.ndarray) -> Basin:
    """The widest contiguous interval of grid points whose loss is <= threshold, in the units of x.

    x: (u, n) or (n,) increasing grid coordinates (log10 lr), NaN padding at the right end.
    loss: (u, n) loss at those points (padding: +inf or NaN). threshold: (u,).
    Every run of qualifying grid points is a candidate; the widest wins, so near-tied minima in
    separate runs cannot make the width jump, and ``disjoint`` says when there were several.
    A run is extended on each side to where the straight line between its last point inside and
    the first point outside crosses the threshold (linear interpolation of the loss in x). A run
    that reaches the grid's first (last) point stops there and is flagged cut: a lower bound.
    The true edge lies between the last point inside and the first outside, so the grid allows
    any width in [width_min, width_max] (width_max: the whole gap to the first points outside; no
    qualifying point: [0, the spacing around the best point] is not claimed, width_max is NaN).
    ``gaps`` are the two grid intervals that hold the uncut edges (the last point inside, the first
    outside); ``step``, the wider of them, is the grid's resolution where it matters: a grid
    bisected at the edges resolves the width to that, whatever its step elsewhere.
    """
    loss = np.where(np.isfinite(loss), loss, np.inf)
    u, n = loss.shape
    x = np.broadcast_to(x, (u, n))
    valid = np.isfinite(x) & np.isfinite(loss)
    last = (n - 1 - np.argmax(valid[:, ::-1], axis=1))[:, None]  # last valid grid index per row
    rows = np.arange(u)[:, None]
    i = np.arange(n)[None, :]
    t = threshold[:, None]
    inside = valid & (loss <= t)
    # the run [a, b] containing each grid point i (meaningful where inside)
    a = np.maximum.accumulate(np.where(~inside, i, -1), axis=1) + 1
    b = np.minimum.accumulate(np.where(~inside, i, n)[:, ::-1], axis=1)[:, ::-1] - 1
    cut_low, cut_high = a == 0, b >= last

    def crossing(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
        xi, xo = x[rows, inner], x[rows, outer]
        li, lo = loss[rows, inner], loss[rows, outer]
        with np.errstate(invalid="ignore", divide="ignore"):
            return xi + (xo - xi) * (t - li) / (lo - li)

    low = np.where(cut_low, x[rows, np.clip(a, 0, n - 1)], crossing(np.clip(a, 0, n - 1), np.clip(a - 1, 0, n - 1)))
    bb = np.minimum(np.clip(b, 0, n - 1), last)
    high = np.where(cut_high, x[rows, bb], crossing(bb, np.minimum(bb + 1, n - 1)))
    width = np.where(inside, high - low, -np.inf)
    inner = x[rows, bb] - x[rows, np.clip(a, 0, n - 1)]
    outer = np.where(cut_low | cut_high, np.inf, x[rows, np.minimum(bb + 1, n - 1)] - x[rows, np.clip(a - 1, 0, n - 1)])
    ends_x = [  # (x inside, x outside) of the low and the high edge, NaN where the run is cut there
        [
            np.where(cut_low, np.nan, x[rows, np.clip(a, 0, n - 1)]),
            np.where(cut_low, np.nan, x[rows, np.clip(a - 1, 0, n - 1)]),
        ],
        [np.where(cut_high, np.nan, x[rows, bb]), np.where(cut_high, np.nan, x[rows, np.minimum(bb + 1, n - 1)])],
    ]
    pick = np.argmax(width, axis=1)[:, None]
    found = inside.any(axis=1)
    runs = (inside & ~np.hstack([np.zeros((u, 1), bool), inside[:, :-1]])).sum(axis=1)

    def at(v: np.ndarray, empty) -> np.ndarray:
        return np.where(found, np.take_along_axis(v, pick, axis=1)[:, 0], empty)

    return Basin(
        width=at(width, 0.0),
        low=at(low, np.nan),
        high=at(high, np.nan),
        cut_low=at(cut_low, False),
        cut_high=at(cut_high, False),
        disjoint=runs > 1,
        width_min=at(inner, 0.0),
        width_max=at(outer, np.nan),
        gaps=np.stack([np.stack([at(v, np.nan) for v in edge], axis=-1) for edge in ends_x], axis=1),
    )


# ---------------------------------------------------------------------------------------------
# 3. LR sensitivity (Wortsman et al. 2023)
# ---------------------------------------------------------------------------------------------


def lr_sensitivity(
    log_lr: np.ndarray, loss: np.ndarray, l0: float, lstar: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-uniform average over [lo, hi] (log10 lr) of min(loss, l0) - l*, estimated from the grid
    points inside the window (to DECADE_TOL) with trapezoid weights in log10 lr, so that merged
    or refined grids are not over-weighted where they are dense:

        value = sum_i (x_{i+1} - x_i) (gap_i + gap_{i+1}) / 2 / (x_last - x_first)

    (the gap itself when one point is inside). Returns (value, cut): cut is True where [lo, hi]
    reaches past the grid's ends, so the average covers less of the range than asked for."""
    x = np.broadcast_to(log_lr, loss.shape)
    inside = np.isfinite(x) & np.isfinite(loss) & (x >= lo[:, None] - DECADE_TOL) & (x <= hi[:, None] + DECADE_TOL)
    gap = np.where(inside, np.minimum(loss, l0) - lstar[:, None], 0.0)
    pair = inside[:, :-1] & inside[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.where(pair, np.diff(np.where(np.isfinite(x), x, 0.0), axis=1), 0.0)
        area = (dx * (gap[:, :-1] + gap[:, 1:]) / 2).sum(axis=1)
        span = dx.sum(axis=1)
        single = gap.sum(axis=1) / inside.sum(axis=1)
        value = np.where(span > 0, area / np.where(span > 0, span, 1.0), single)
        grid_lo = np.min(np.where(np.isfinite(loss) & np.isfinite(x), x, np.inf), axis=1)
        grid_hi = np.max(np.where(np.isfinite(loss) & np.isfinite(x), x, -np.inf), axis=1)
    cut = (lo < grid_lo - DECADE_TOL) | (hi > grid_hi + DECADE_TOL)
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
    sk = s[:, :, None] ** kk  # (u, N + 1, K)
    p = sk[:, :-1] - sk[:, 1:]  # P(min of k is the i-th smallest)
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
    g = {
        "uniform": u_sum / K,
        "late": v_sum / (K * (K + 1) / 2),
        "early": ((K + 1) * u_sum - v_sum) / (K * (K + 1) / 2),
    }
    return {name: (gx[:, :-1] - gx[:, 1:]) @ v for name, gx in g.items()}


def alpha_tunability(v: np.ndarray, s: np.ndarray, budget: int, alpha: float) -> np.ndarray:
    """Fraction of the budget K needed to get within alpha of the peak: min{k: P(k) <= P(K) +
    alpha |P(K)|} / K (P(k) never increases with k, so the first such k is found by bisection)."""
    K = budget
    peak = expected_min(v, s, K)[0][:, 0]
    target = peak + alpha * np.abs(peak)
    lo = np.zeros_like(peak, dtype=int)  # P(lo) above target (P(0): no trial yet)
    hi = np.full_like(peak, K, dtype=int)  # P(hi) <= target
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = expected_min(v, s, np.maximum(mid, 1)[:, None])[0][:, 0] <= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return np.where(np.isfinite(peak), hi / K, np.nan)
