"""Hyperparameter importance with Optuna's own evaluator (fANOVA), per task x optimizer over its
swept axes, for the optimizers that swept more than one hyperparameter.

Each grid point becomes one Optuna trial (optuna.trial.create_trial, added to an in-memory study
with study.add_trials): its hyperparameters, with distributions from the grid (a log float axis
where curves.scale_of says log, a float or int axis over the grid's range otherwise, categories
for anything else), and as its value the point's median final loss over seeds, diverged and
failed seeds at l0, as in every metric. fANOVA (Hutter et al. 2014, optuna.importance.
FanovaImportanceEvaluator) fits a random forest to these values and splits its variance over
the axes; the importances sum to 1. It is descriptive: a share of the variance of a fitted
surrogate over the grid's box, with no interval over seeds and no test; a grid too coarse along
an axis cannot show that axis's effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optbasin.analysis.curves import scale_of
from optbasin.analysis.robustness import is_numeric_axis

EVALUATOR = "fanova"
SEED = 0  # the forest's seed: the same results give the same importances
COLUMNS = ["task", "optimizer", "param", "importance", "points", "evaluator", "undefined"]


def _distribution(axis: str, values: pd.Series):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    vals = values.dropna().tolist()
    if is_numeric_axis(vals):
        arr = np.asarray(vals, dtype=float)
        log = scale_of(axis, arr) == "log" and arr.min() > 0
        if all(float(v).is_integer() for v in arr) and all(isinstance(v, (int, np.integer)) for v in vals):
            return IntDistribution(int(arr.min()), int(arr.max()), log=log)
        return FloatDistribution(float(arr.min()), float(arr.max()), log=log)
    return CategoricalDistribution(sorted({str(v) for v in vals}))


def _param(dist, value):
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return str(value)
    return int(value) if isinstance(dist, IntDistribution) else float(value)


def group_importance(points: pd.DataFrame, axes: list[str], value: str = "median") -> tuple[dict[str, float], str]:
    """({axis without 'hp.': importance}, why undefined) of the grid ``points`` (one row each, hp.*
    columns and ``value``) over the ``axes`` that vary there; ({}, "") with fewer than two such
    axes; NaN importances and the reason when there is nothing to attribute."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.trial import create_trial

    pts = points[np.isfinite(points[value].astype(float))].dropna(subset=axes)
    axes = [a for a in axes if pts[a].nunique() > 1]
    if len(axes) < 2:
        return {}, ""
    names = [a.removeprefix("hp.") for a in axes]
    if len(pts) < 3:
        return dict.fromkeys(names, np.nan), f"{len(pts)} grid points with a loss: too few to fit"
    if np.ptp(pts[value].astype(float).to_numpy()) == 0:
        return dict.fromkeys(names, np.nan), "every grid point has the same loss: no variance to attribute"
    dists = {n: _distribution(a, pts[a]) for a, n in zip(axes, names)}
    trials = [
        create_trial(
            params={n: _param(dists[n], r[a]) for a, n in zip(axes, names)}, distributions=dists, value=float(r[value])
        )
        for _, r in pts.iterrows()
    ]
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # "a new study created in memory"
    try:
        study = optuna.create_study(direction="minimize")
    finally:
        optuna.logging.set_verbosity(before)
    study.add_trials(trials)
    try:
        imp = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=SEED))
    except RuntimeError as e:  # e.g. "zero total variance in all trees": the forest found no split
        return dict.fromkeys(names, np.nan), f"fANOVA: {e}"
    return {n: float(imp[n]) for n in names}, ""


def importance_table(points: pd.DataFrame, axes: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    """One row per task x optimizer x swept axis, for each (task, optimizer) of ``axes`` (its hp
    columns that vary) with more than one swept axis; ``points``: the analysis' points table.
    importance is NaN, with the reason in ``undefined``, where it cannot be computed."""
    rows = []
    for (task, opt), group_axes in sorted(axes.items()):
        if len(group_axes) < 2:
            continue
        pts = points[(points["task"] == task) & (points["optimizer"] == opt)]
        imp, why = group_importance(pts, group_axes)
        for param, v in imp.items():
            rows.append(
                {
                    "task": task,
                    "optimizer": opt,
                    "param": param,
                    "importance": v,
                    "points": len(pts),
                    "evaluator": EVALUATOR,
                    "undefined": why,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
