"""Point-estimate views for plots and tables: sensitivity curves along every axis, basins along
them, two-parameter surfaces, per-parameter best curves, expected-best curves and the optimizer
diagnostics (mechanism views). All computed on the points table (medians over seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optbasin.analysis import metrics as M
from optbasin.analysis.grid import LR, Group
from optbasin.analysis.loss_table import hp_columns
from optbasin.analysis.robustness import is_numeric_axis
from optbasin.analysis.specs import MetricSpec, threshold

STATS = ["median", "q25", "q75", "min", "max", "n_seeds", "n_diverged", "n_failed", "l0"]


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    return ((a == b) | (a.isna() & b.isna())).to_numpy()


def _at_best(points: pd.DataFrame, best: pd.DataFrame, free: list[str]) -> pd.DataFrame:
    """Points whose hyperparameters other than ``free`` equal the best point's."""
    hp = hp_columns(points)
    merged = points.merge(best[["task", "optimizer", *hp]], on=["task", "optimizer"], suffixes=("", "@best"))
    keep = np.ones(len(merged), dtype=bool)
    for c in hp:
        if c not in free:
            keep &= _same(merged[c], merged[c + "@best"])
    return merged.loc[keep, points.columns]


def scale_of(axis: str, values: np.ndarray) -> str:
    """'log' for lr and for positive axes spanning a factor >= 10, else 'linear'."""
    values = np.asarray(values, dtype=float)
    if axis == LR:
        return "log"
    ok = values[np.isfinite(values)]
    return "log" if ok.size and ok.min() > 0 and ok.max() / ok.min() >= 10 else "linear"


def sensitivity_curves(points: pd.DataFrame, best: pd.DataFrame, axes: dict) -> pd.DataFrame:
    """Long table (task, optimizer, axis, x, value, stats...): the loss along each swept axis with
    every other hyperparameter at the optimizer's best point (x: NaN on a categorical axis)."""
    frames = []
    for axis in sorted({a for v in axes.values() for a in v}):
        sel = _at_best(points, best, [axis])
        has_axis = [axis in axes[(t, o)] for t, o in zip(sel["task"], sel["optimizer"])]
        sel = sel[has_axis]
        numeric = is_numeric_axis(sel[axis])
        frames.append(
            pd.DataFrame(
                {
                    "task": sel["task"],
                    "optimizer": sel["optimizer"],
                    "axis": axis.removeprefix("hp."),
                    "x": sel[axis].astype(float) if numeric else np.nan,
                    "value": sel[axis].astype(str),
                    "point_id": sel["point_id"],
                    **{c: sel[c] for c in STATS},
                }
            )
        )
    cols = ["task", "optimizer", "axis", "x", "value", "point_id", *STATS]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return out.sort_values(["task", "optimizer", "axis", "x", "value"], kind="stable").reset_index(drop=True)


def axis_basins(curves: pd.DataFrame, specs: list[MetricSpec]) -> pd.DataFrame:
    """Basin of every sensitivity curve at every tolerance (width in decades on log axes, in the
    axis' units on linear ones), with cut flags. Loops over curves, not trials."""
    rows = []
    for (task, opt, axis), c in curves.groupby(["task", "optimizer", "axis"], sort=True):
        if len(c) < 2:
            continue
        xs = c["x"].to_numpy(dtype=float)
        if not np.isfinite(xs).all():  # a categorical axis: no interval to speak of
            continue
        scale = scale_of("hp." + axis, xs)
        coord = np.log10(xs) if scale == "log" else xs
        loss = c["median"].to_numpy(dtype=float)[None, :]
        lstar = np.array([loss.min()])
        for spec in specs:
            if spec.scope != "own":  # task-wide tolerances are a leaderboard view only
                continue
            t = threshold(lstar, spec)
            b = M.basin(coord, loss, t)
            back = (lambda z: 10**z) if scale == "log" else (lambda z: z)
            rows.append(
                {
                    "task": task,
                    "optimizer": opt,
                    "axis": axis,
                    "tolerance": spec.column.removeprefix("basin_width_"),
                    "threshold": float(t[0]),
                    "width": float(b.width[0]),
                    "units": "decades" if scale == "log" else axis,
                    "low": float(back(b.low[0])),
                    "high": float(back(b.high[0])),
                    "cut_low": bool(b.cut_low[0]),
                    "cut_high": bool(b.cut_high[0]),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "task",
            "optimizer",
            "axis",
            "tolerance",
            "threshold",
            "width",
            "units",
            "low",
            "high",
            "cut_low",
            "cut_high",
        ],
    )


def surfaces(points: pd.DataFrame, best: pd.DataFrame, axes: dict) -> pd.DataFrame:
    """lr x y grids (y = every other swept axis, e.g. clamp_c or f_star), remaining axes at best."""
    frames = []
    ys = sorted({a for v in axes.values() for a in v if a != LR})
    for y in ys:
        sel = _at_best(points, best, [LR, y])
        keep = [LR in axes[(t, o)] and y in axes[(t, o)] for t, o in zip(sel["task"], sel["optimizer"])]
        sel = sel[keep]
        frames.append(
            pd.DataFrame(
                {
                    "task": sel["task"],
                    "optimizer": sel["optimizer"],
                    "y_axis": y.removeprefix("hp."),
                    "lr": sel[LR],
                    "y": sel[y],
                    **{c: sel[c] for c in STATS},
                }
            )
        )
    cols = ["task", "optimizer", "y_axis", "lr", "y", *STATS]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def best_along(points: pd.DataFrame, axes: dict) -> pd.DataFrame:
    """For every non-lr axis: at each of its values, the best median loss over all the other
    hyperparameters (e.g. best loss against clamp_c, each c at its own best lr)."""
    frames = []
    for a in sorted({a for v in axes.values() for a in v if a != LR}):
        keep = [a in axes[(t, o)] for t, o in zip(points["task"], points["optimizer"])]
        sel = points[keep].sort_values("median", kind="stable")
        sel = sel.drop_duplicates(["task", "optimizer", a]).sort_values(["task", "optimizer", a])
        frames.append(
            pd.DataFrame(
                {
                    "task": sel["task"],
                    "optimizer": sel["optimizer"],
                    "axis": a.removeprefix("hp."),
                    "value": sel[a],
                    "best_loss": sel["median"],
                    "best_lr": sel[LR],
                    "min": sel["min"],
                    "max": sel["max"],
                    "n_seeds": sel["n_seeds"],
                    "n_diverged": sel["n_diverged"],
                }
            )
        )
    cols = ["task", "optimizer", "axis", "value", "best_loss", "best_lr", "min", "max", "n_seeds", "n_diverged"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def expected_best_curve(g: Group, max_points: int) -> pd.DataFrame:
    """Dodge's expected best after k trials (= Sivaprasad's P(k)) for k = 1..N with its standard
    deviation; beyond max_points values of k, a log-spaced subset of 1..N."""
    n = len(g.trial_loss)
    k = np.arange(1, n + 1) if n <= max_points else np.unique(np.geomspace(1, n, max_points).round().astype(int))
    v, s = M.survival(g.pooled_loss, np.ones((1, n)))
    mean, var = M.expected_min(v, s, k)
    return pd.DataFrame(
        {"task": g.task, "optimizer": g.optimizer, "k": k, "expected_best": mean[0], "sd": np.sqrt(var[0])}
    )


def diagnostics_by_point(lt: pd.DataFrame, steps: pd.DataFrame | None) -> pd.DataFrame:
    """Per grid point, the median over seeds of each trial's mean of every ``diag.`` column over
    its logged steps. diag.truncated (a step's tau < lr, averaged over the logging window) then
    reads as the share of steps where Momo's truncation was active; diag.clamped_frac as the mean
    fraction of NAMO-D's clamped columns."""
    if steps is None or steps.empty:
        return pd.DataFrame()
    diag = [c for c in steps.columns if c.startswith("diag.")]
    if not diag:
        return pd.DataFrame()
    codes, ids = pd.factorize(steps["trial_id"])
    per_trial = pd.DataFrame(index=pd.Index(ids, name="trial_id"))
    for col in diag:
        values = steps[col].to_numpy(dtype=float)
        ok = np.isfinite(values)
        n = np.bincount(codes[ok], minlength=len(ids))
        total = np.bincount(codes[ok], weights=values[ok], minlength=len(ids))
        with np.errstate(invalid="ignore", divide="ignore"):
            per_trial[col] = np.where(n > 0, total / n, np.nan)
    joined = lt[["trial_id", "point_id"]].merge(per_trial, left_on="trial_id", right_index=True)
    per_point = joined.groupby("point_id")[diag].median()
    per_point["n_trials_with_diag"] = joined[diag].notna().any(axis=1).groupby(joined["point_id"]).sum()
    return per_point.reset_index()
