"""Every leaderboard metric of one optimizer on one task, for the rows of a count matrix at once
(see bootstrap.py): the point estimate (every seed once), bootstrap resamples of the seeds, or
single seeds (the per-seed values the claims' paired test compares).

Per row r, each grid point's loss is the median over its drawn seeds (a point none of whose
seeds was drawn keeps its all-seeds median; a row that draws none of the optimizer's seeds
is NaN). l* is the lowest of these medians, the best point its argmin, and the lr curve is the
lr slice through the best point ("the others at their per-optimizer best").
Pooled metrics (expected best, tunability, divergence rate, time per step) use every trial,
each weighted by how often its seed was drawn; N, the number of trials they may use, counts
trials (grid points x drawn seeds), and a budget k > N is undefined (NaN).

Metrics never reward failure: a metric whose entry says ``fails_with_optimum`` (basin width, LR
sensitivity, tunability) is undefined (NaN, with the reason in GroupResult.undefined) in a row
whose best point diverged (most of its drawn seeds) or whose l* >= l0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optbasin.analysis import metrics as M
from optbasin.analysis.bootstrap import weighted_median
from optbasin.analysis.context import Context
from optbasin.analysis.grid import LR, Group
from optbasin.analysis.settings import AnalysisSettings
from optbasin.analysis.specs import MetricSpec


@dataclass
class GroupResult:
    values: dict[str, np.ndarray]  # column -> (u,) values, row 0 = estimate
    best_point: int  # index into group.points (estimate)
    edges: list[str]  # e.g. ["lr:high"]: optimum on the grid's edge
    cuts: dict[str, np.ndarray] = field(default_factory=dict)  # column -> (u,) bool
    basins: dict[str, dict[str, float]] = field(default_factory=dict)  # column -> low/high/cut (estimate)
    gaps: dict[str, np.ndarray] = field(default_factory=dict)  # column -> (u, 2, 2) intervals holding a basin's edges
    best_rows: np.ndarray | None = None  # (u,) each row's best point (index into group.points)
    undefined: dict[str, str] = field(default_factory=dict)  # column -> why NaN (estimate)
    ran: np.ndarray | None = None  # (m,) seeds with a trial (seed_values only)
    group: Group | None = None  # the group (seed_values only)

    @property
    def steps(self) -> dict[str, np.ndarray]:
        """column -> (u,) the grid's step at the basin's uncut edges (metrics.edge_step)."""
        return {col: M.edge_step(g) for col, g in self.gaps.items()}


def medians(g: Group, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(med (u, P), best (u,), l* (u,)) for the rows of a count matrix. A point a row did not draw
    takes the median over every seed (what a resample or a single seed lacks, the point estimate has)."""
    med = weighted_median(g.loss, counts)
    everyone = weighted_median(g.loss, np.ones((1, g.loss.shape[1]), dtype=np.int64))
    med = np.where(np.isnan(med), everyone, med)
    best = np.argmin(np.where(np.isnan(med), np.inf, med), axis=1)
    return med, best, med[np.arange(len(best)), best]


def group_metrics(
    g: Group,
    counts: np.ndarray,
    specs: list[MetricSpec],
    s: AnalysisSettings,
    task_best: np.ndarray | None = None,
    med: tuple | None = None,
) -> GroupResult:
    """Every metric of ``specs`` for every row of ``counts``. task_best: (u,) the task's lowest
    l* per row (for task-wide tolerances; default this optimizer's own l*). med: medians(g,
    counts) when already computed."""
    u = counts.shape[0]
    rows = np.arange(u)
    valid = counts[:, np.isfinite(g.loss).any(axis=0)].sum(axis=1) > 0  # (u,)
    med, best, lstar = med if med is not None else medians(g, counts)

    idx = g.slices[g.slice_of[best]]  # (u, n)
    curve = np.where(idx >= 0, med[rows[:, None], np.maximum(idx, 0)], np.inf)
    x = np.where(idx >= 0, g.log_lr[np.maximum(idx, 0)], np.nan)
    lr_curve = g.lr_swept and np.isfinite(g.log_lr).all() and (g.slices[g.slice_of[best[0]]] >= 0).sum() >= 2

    w = counts[:, g.trial_seed]  # (u, N)
    v, surv = M.survival(g.pooled_loss, w)
    ctx = Context(
        g=g,
        settings=s,
        counts=counts,
        u=u,
        med=med,
        best=best,
        lstar=lstar,
        task_best=lstar if task_best is None else task_best,
        curve=curve,
        x=x,
        best_log_lr=g.log_lr[best],
        w=w,
        n_trials=w.sum(axis=1),
        v=v,
        surv=surv,
        l0=g.l0,
        all_seeds_best_log_lr=float(g.log_lr[medians(g, np.ones((1, counts.shape[1]), np.int64))[1][0]]),
    )

    drawn = counts[:, None, :] > 0  # (u, 1, m)
    best_div = (g.diverged[best][:, None, :] & drawn[:, 0][:, None, :]).sum(axis=2)[:, 0]
    best_runs = (np.isfinite(g.loss[best]) & (counts > 0)).sum(axis=1)
    failed_optimum = (2 * best_div > best_runs) | (lstar >= g.l0)

    result = GroupResult(values={}, best_point=int(best[0]), edges=edges_of(g, int(best[0])), best_rows=best)
    for spec in specs:
        col, entry = spec.column, spec.entry
        if entry.needs_lr and (g.sampled or not lr_curve):
            result.values[col] = np.full(u, np.nan)
            result.undefined[col] = "search points only, no lr grid" if g.sampled else "lr not swept"
            continue
        out = entry.compute(ctx, spec)
        values = out.values.astype(float)
        if entry.fails_with_optimum:
            values = np.where(failed_optimum, np.nan, values)
            if failed_optimum[0]:
                result.undefined[col] = (
                    "the best point diverged"
                    if 2 * best_div[0] > best_runs[0]
                    else f"l* = {lstar[0]:.4g} >= l0 = {g.l0:.4g}: nothing was learned"
                )
        if np.isnan(values[0]) and col not in result.undefined and spec.scope == "floor":
            result.undefined[col] = (
                f"l* = {lstar[0]:.4g} >= l_ref = {g.l_ref:.4g}: the best does not beat the "
                "task's reference loss, so there is no basin"
            )
        if np.isnan(values[0]) and col not in result.undefined and spec.name == "time_per_step":
            result.undefined[col] = (
                "no trial timed alone (population members record a share of their population's time)"
            )
        if np.isnan(values[0]) and col not in result.undefined and entry.budgeted:
            n = int(ctx.n_trials[0])
            result.undefined[col] = f"budget k beyond the N = {n} trial{'s' * (n != 1)} run"
        result.values[col] = np.where(valid, values, np.nan)
        if out.cut is not None:
            result.cuts[col] = out.cut.astype(bool)
        if out.detail is not None:
            result.basins[col] = out.detail
        if out.gaps is not None:
            result.gaps[col] = out.gaps
    return result


def seed_values(
    g: Group,
    specs: list[MetricSpec],
    s: AnalysisSettings,
    task_best: np.ndarray | None = None,
    med: tuple | None = None,
) -> GroupResult:
    """Each metric on each seed of the task alone (row j = seed j), the values the claims' paired
    test compares. The best loss is cross-fitted: seed j scores the point that is best on the
    other seeds (median over them), so the selection never sees the seed it is scored on."""
    m = g.loss.shape[1]
    eye = np.eye(m, dtype=np.int64)
    res = group_metrics(g, eye, specs, s, task_best, med)
    if "best_loss" in res.values:
        res.values["best_loss"] = cross_fitted_best(g)
    res.ran = paired_seeds(g)
    res.group = g
    return res


def paired_seeds(g: Group) -> np.ndarray:
    """(m,) the seeds the claims' paired tests may use: those with a loss that ran every point of
    the grid (a failed trial counts as run). A seed run on part of the grid (a round or a sweep cut
    short) would have its best and its basin taken over another grid than the other seeds': it
    joins once it has run every point. A search's points (one seed each) have no such grid."""
    scored = np.isfinite(g.loss).any(axis=0)
    return scored if g.sampled else scored & g.ran.all(axis=0)


def cross_fitted_best(g: Group) -> np.ndarray:
    """(m,) loss on seed j of the point with the lowest median over the other seeds (NaN when
    seed j did not run that point, or when there is no other seed)."""
    return cross_fit(g.loss[None])[0]


def cross_fit(loss: np.ndarray) -> np.ndarray:
    """loss (K, P, m) -> (K, m): for each seed j, the loss on seed j of the grid point whose median
    over the other seeds is lowest (choose on some seeds, score on another; averaging over j
    averages over the m leave-one-seed-out splits). NaN with fewer than 2 seeds."""
    K, P, m = loss.shape
    out = np.full((K, m), np.nan)
    if m < 2:
        return out
    rows = np.arange(K)
    for j in range(m):
        others = np.delete(loss, j, axis=2)
        with np.errstate(all="ignore"):
            med = np.sort(others, axis=2)  # NaN last
            n = np.isfinite(others).sum(axis=2)
            lo = np.take_along_axis(med, np.maximum((n - 1) // 2, 0)[..., None], axis=2)[..., 0]
            hi = np.take_along_axis(med, np.maximum(n // 2, 0)[..., None], axis=2)[..., 0]
            med = np.where(n > 0, (lo + hi) / 2, np.inf)
        best = np.argmin(med, axis=1)
        out[:, j] = loss[rows, best, j]
    return out


def edges_of(g: Group, best: int) -> list[str]:
    """Axes along which the best point sits on the grid's first or last value."""
    flags = []
    for axis in g.axes:
        name = axis.removeprefix("hp.")
        if axis == LR:
            n = (g.slices[g.slice_of[best]] >= 0).sum()
            pos = g.slice_pos[best]
            if n < 2:  # alone on its lr slice (a search's point): no lr neighbours, no lr edge to sit on
                continue
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
    return bool(vals) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in vals
    )
