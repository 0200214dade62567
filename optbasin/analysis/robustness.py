"""Every leaderboard metric of one optimizer on one task, for the point estimate and each
bootstrap resample of the seeds at once (rows of a count matrix, see bootstrap.py).

Per resample r, each grid point's loss is the median over its drawn seeds (a point none of whose
seeds was drawn keeps its all-seeds median; a resample that draws none of the optimizer's seeds
is NaN). l* is the lowest of these medians, the best point its argmin, and the lr curve is the
lr slice through the best point ("the others at their per-optimizer best").
Pooled metrics (expected best, tunability, divergence rate, time per step) use every trial,
each weighted by how often its seed was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optbasin.analysis import metrics as M
from optbasin.analysis.bootstrap import weighted_median
from optbasin.analysis.grid import LR, Group
from optbasin.analysis.settings import AnalysisSettings
from optbasin.analysis.specs import MetricSpec


@dataclass
class GroupResult:
    values: dict[str, np.ndarray]                       # column -> (u,) values, row 0 = estimate
    best_point: int                                     # index into group.points (estimate)
    edges: list[str]                                    # e.g. ["lr:high"]: optimum on the grid's edge
    basins: dict[str, dict[str, float]] = field(default_factory=dict)  # column -> low/high/cut (estimate)
    lr_range_cut: bool = False


def threshold(lstar: np.ndarray, spec: MetricSpec) -> np.ndarray:
    """Basin tolerance: l* + eps |l*| (relative) or l* + delta (absolute)."""
    return lstar + spec.eps * np.abs(lstar) if spec.eps is not None else lstar + spec.delta


def group_metrics(g: Group, counts: np.ndarray, specs: list[MetricSpec], s: AnalysisSettings) -> GroupResult:
    u = counts.shape[0]
    rows = np.arange(u)
    has_seed = np.isfinite(g.loss).any(axis=0)
    valid = counts[:, has_seed].sum(axis=1) > 0                       # (u,)

    med = weighted_median(g.loss, counts)                              # (u, P)
    med = np.where(np.isnan(med), med[0][None, :], med)
    best = np.argmin(med, axis=1)
    lstar = med[rows, best]

    # the lr curve through each row's best point
    idx = g.slices[g.slice_of[best]]                                   # (u, n)
    curve = np.where(idx >= 0, med[rows[:, None], np.maximum(idx, 0)], np.inf)
    x = np.where(idx >= 0, g.log_lr[np.maximum(idx, 0)], np.nan)
    lr_curve = g.lr_swept and np.isfinite(g.log_lr).all() and (g.slices[g.slice_of[best[0]]] >= 0).sum() >= 2

    # pooled trials, weighted by their seed's count
    w = counts[:, g.trial_seed]                                        # (u, N)
    v, surv = M.survival(g.trial_loss, w)

    out: dict[str, np.ndarray] = {}
    cache: dict[str, dict] = {}
    result = GroupResult(values=out, best_point=int(best[0]), edges=edges_of(g, int(best[0])))
    for spec in specs:
        col = spec.column
        if spec.name == "best_loss":
            out[col] = lstar
        elif spec.name == "basin_width":
            if not lr_curve:
                out[col] = np.full(u, np.nan)
                continue
            b = M.basin(x, curve, threshold(lstar, spec))
            out[col] = b.width
            result.basins[col] = {"low": float(10 ** b.low[0]), "high": float(10 ** b.high[0]),
                                  "cut_low": bool(b.cut_low[0]), "cut_high": bool(b.cut_high[0]),
                                  "threshold": float(threshold(lstar, spec)[0])}
        elif spec.name == "lr_sensitivity":
            if not lr_curve:
                out[col] = np.full(u, np.nan)
                continue
            if s.lr_range is not None:
                lo = np.full(u, np.log10(s.lr_range[0]))
                hi = np.full(u, np.log10(s.lr_range[1]))
            else:
                centre = g.log_lr[best]
                lo, hi = centre - s.lr_decades / 2, centre + s.lr_decades / 2
            out[col], cut = M.lr_sensitivity(x, curve, g.l0, lstar, lo, hi)
            result.lr_range_cut = bool(cut[0])
        elif spec.name == "expected_best_k":
            if "ks" not in cache:
                ks = sorted({sp.k for sp in specs if sp.name == "expected_best_k"})
                cache["ks"] = dict(zip(ks, M.expected_min(v, surv, np.array(ks))[0].T))
            out[col] = cache["ks"][spec.k]
        elif spec.name == "tunability":
            if "cp" not in cache:
                cache["cp"] = M.cumulative_performance(v, surv, s.tunability_budget)
            out[col] = cache["cp"][spec.weighting]
        elif spec.name == "alpha_tunability":
            out[col] = M.alpha_tunability(v, surv, s.tunability_budget, spec.alpha)
        elif spec.name == "divergence_rate":
            out[col] = (w * g.trial_diverged).sum(axis=1) / w.sum(axis=1).clip(min=1)
        elif spec.name == "divergence_rate_points":
            drawn = (counts > 0).astype(int)
            some_drawn = drawn @ np.isfinite(g.loss).T.astype(int) > 0          # (u, P)
            div_drawn = drawn @ g.diverged.T.astype(int) > 0
            div_all = g.diverged.any(axis=1)[None, :]
            out[col] = np.where(some_drawn, div_drawn, div_all).mean(axis=1)
        elif spec.name == "time_per_step":
            out[col] = weighted_median(g.trial_time[None, :], w)[:, 0]
        else:
            raise ValueError(f"unknown metric {spec.name!r}")
    for col in out:
        out[col] = np.where(valid, out[col].astype(float), np.nan)
    return result


def edges_of(g: Group, best: int) -> list[str]:
    """Axes along which the best point sits on the grid's first or last value."""
    flags = []
    for axis in g.axes:
        name = axis.removeprefix("hp.")
        if axis == LR:
            n = (g.slices[g.slice_of[best]] >= 0).sum()
            pos = g.slice_pos[best]
            if pos == 0:
                flags.append(f"{name}:low")
            elif pos == n - 1:
                flags.append(f"{name}:high")
            continue
        col = g.points[axis]
        if not is_numeric_axis(col):  # a categorical hyperparameter has no edge
            continue
        value = float(col.iloc[best])
        if value == col.astype(float).min():
            flags.append(f"{name}:low")
        elif value == col.astype(float).max():
            flags.append(f"{name}:high")
    return flags


def is_numeric_axis(values) -> bool:
    """Numbers (not bools, not strings) on every non-missing value."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    return bool(vals) and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                              for v in vals)
