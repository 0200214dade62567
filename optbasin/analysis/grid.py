"""Grid points (one hyperparameter setting of one optimizer on one task, over its seeds) and the
lr slices through them (the points that share every hyperparameter but lr, sorted by lr).

Axes of a (task, optimizer) are the hyperparameters that take more than one value in it; the
others are constant there, so grouping on every ``hp.`` column gives the grid points. Points are
numbered in sorted order of (task, optimizer, other hyperparameters, lr): the points of one
(task, optimizer), and the points of one lr slice, are contiguous and a slice is sorted by lr.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optbasin.analysis.loss_table import hp_columns

LR = "hp.lr"


@dataclass
class Group:
    """Everything the metrics need about one optimizer on one task, as arrays."""

    task: str
    optimizer: str
    axes: list[str]  # hp columns that vary here (lr first when swept)
    points: pd.DataFrame  # this group's rows of the points table (index 0..P-1)
    loss: np.ndarray  # (P, m) loss per point and seed of the task (NaN: not run)
    diverged: np.ndarray  # (P, m) bool
    ran: np.ndarray  # (P, m) bool: a trial exists (completed, diverged or failed)
    seeds: np.ndarray  # (m,) the task's seeds, the columns of loss
    slices: np.ndarray  # (n_slices, n_max) point index along lr, -1 as padding
    slice_of: np.ndarray  # (P,) slice of each point
    slice_pos: np.ndarray  # (P,) position of each point in its slice
    log_lr: np.ndarray  # (P,) log10 lr
    trial_loss: np.ndarray  # (N,) every trial's loss
    trial_seed: np.ndarray  # (N,) column in `seeds` of each trial
    trial_diverged: np.ndarray  # (N,) bool
    trial_time: np.ndarray  # (N,) wall time per step (NaN for failed trials)
    l0: float  # median loss at initialization
    l_ref: float = np.nan  # the task's reference loss (a trivial predictor's; l0 when undeclared)
    l_min: float = np.nan  # the task's known floor (a synthetic task's noise floor), else NaN
    sampled: bool = False  # every point is a search's (one seed each, placed by the sampler): no lr grid

    @property
    def lr_swept(self) -> bool:
        return LR in self.axes

    @property
    def pooled_loss(self) -> np.ndarray:
        """(N,) each trial's loss capped at l0, what the pooled metrics (expected best, tunability)
        draw from: a trial that ends worse than the untrained model scores as the untrained model,
        as a diverged one does (docs/statistics.md), so no such score can exceed l0."""
        return np.minimum(self.trial_loss, self.l0) if np.isfinite(self.l0) else self.trial_loss


def index_points(lt: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Number the grid points and the task's seeds; return (trials sorted by point, points).

    points: one row per grid point with its hyperparameters and, over its seeds, the median,
    quartiles (linear interpolation), min and max of the loss, n_seeds, n_diverged, n_failed."""
    hp = hp_columns(lt)
    others = [c for c in hp if c != LR]
    keys = ["task", "optimizer", *others, LR]
    lt = lt.assign(point_id=lt.groupby(keys, sort=True, dropna=False).ngroup())
    seed_group = lt.groupby(["task", "seed"], sort=True).ngroup()
    lt = lt.assign(seed_idx=seed_group - seed_group.groupby(lt["task"]).transform("min"))
    lt = lt.sort_values(["point_id", "seed"], kind="stable").reset_index(drop=True)

    by = lt.groupby("point_id", sort=True)
    points = by[keys].first()
    loss = by["loss"]
    quart = loss.quantile([0.25, 0.75]).unstack()
    points = points.assign(
        median=loss.median(),
        q25=quart[0.25],
        q75=quart[0.75],
        min=loss.min(),
        max=loss.max(),
        n_seeds=by["seed"].nunique(),
        n_trials=by.size(),
        n_diverged=by["diverged"].sum(),
        n_failed=by["failed"].sum(),
        l0=by["l0"].median(),
    ).reset_index()
    points["slice_id"] = points.groupby(["task", "optimizer", *others], sort=True, dropna=False).ngroup()
    points["slice_pos"] = points.groupby("slice_id").cumcount()
    return lt, points


def group_axes(points: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(task, optimizer) -> the hp columns that vary there, lr first."""
    hp = hp_columns(points)
    varying = points.groupby(["task", "optimizer"], sort=True)[hp].nunique() > 1
    out = {}
    for key, row in varying.iterrows():
        axes = [c for c in hp if row[c]]
        out[key] = sorted(axes, key=lambda c: (c != LR, c))
    return out


def build_groups(lt: pd.DataFrame, points: pd.DataFrame) -> list[Group]:
    """One Group per (task, optimizer), sliced out of whole-table arrays (no per-trial loop)."""
    seeds_of_task = lt.groupby("task", sort=True)["seed"].unique().map(np.sort)
    m_max = int(max(len(s) for s in seeds_of_task))
    n_points = len(points)
    loss = np.full((n_points, m_max), np.nan)
    diverged = np.zeros((n_points, m_max), dtype=bool)
    ran = np.zeros((n_points, m_max), dtype=bool)
    pid, sidx = lt["point_id"].to_numpy(), lt["seed_idx"].to_numpy()
    ran[pid, sidx] = True
    loss[pid, sidx] = lt["loss"].to_numpy(dtype=float)
    diverged[pid, sidx] = lt["diverged"].to_numpy(dtype=bool)

    with np.errstate(divide="ignore", invalid="ignore"):
        log_lr = np.log10(pd.to_numeric(points[LR], errors="coerce").to_numpy(dtype=float))
    slice_id, slice_pos = points["slice_id"].to_numpy(), points["slice_pos"].to_numpy()
    axes = group_axes(points)
    trial_point = lt["point_id"].to_numpy()

    groups = []
    bounds = points.groupby(["task", "optimizer"], sort=True).indices
    for (task, opt), idx in bounds.items():
        p0, p1 = int(idx[0]), int(idx[-1]) + 1
        t0, t1 = np.searchsorted(trial_point, [p0, p1])
        m = len(seeds_of_task[task])
        s0 = slice_id[p0]
        sl = slice_id[p0:p1] - s0
        slices = np.full((sl.max() + 1, slice_pos[p0:p1].max() + 1), -1)
        slices[sl, slice_pos[p0:p1]] = np.arange(p1 - p0)
        trials = lt.iloc[t0:t1]
        l0 = all_nan_quiet(np.nanmedian, trials["l0"].to_numpy(dtype=float))
        groups.append(
            Group(
                task=task,
                optimizer=opt,
                axes=axes[(task, opt)],
                points=points.iloc[p0:p1].reset_index(drop=True),
                loss=loss[p0:p1, :m],
                diverged=diverged[p0:p1, :m],
                ran=ran[p0:p1, :m],
                seeds=seeds_of_task[task],
                slices=slices,
                slice_of=sl,
                slice_pos=slice_pos[p0:p1],
                log_lr=log_lr[p0:p1],
                trial_loss=trials["loss"].to_numpy(dtype=float),
                trial_seed=trials["seed_idx"].to_numpy(),
                trial_diverged=trials["diverged"].to_numpy(dtype=bool),
                trial_time=trials["time_per_step"].to_numpy(dtype=float),
                l0=l0,
                l_ref=_declared(trials, "ref_loss", l0),
                l_min=_declared(trials, "floor_loss", np.nan),
                sampled="source" in trials and bool((trials["source"] == "search").all()),
            )
        )
    return groups


def _declared(trials: pd.DataFrame, column: str, default: float) -> float:
    """Median of a loss the task declares (every trial records it), or ``default`` when none did."""
    if column not in trials:
        return default
    v = pd.to_numeric(trials[column], errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else default


def all_nan_quiet(reduce, values, **kw):
    """``reduce`` (np.nanmin, np.nanmedian, ...) of ``values``; NaN without numpy's warning where a
    slice is all NaN (a group whose every trial failed before its first evaluation has no loss)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN", RuntimeWarning)
        out = reduce(values, **kw)
    return float(out) if np.ndim(out) == 0 else out
