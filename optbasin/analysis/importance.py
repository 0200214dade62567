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
COLUMNS = ["task", "optimizer", "param", "importance", "points", "evaluator"]


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


def group_importance(points: pd.DataFrame, axes: list[str], value: str = "median") -> dict[str, float]:
    """{axis without 'hp.': importance} of the grid ``points`` (one row each, hp.* columns and
    ``value``) over ``axes``; {} when fewer than two axes vary or fewer than 3 points have a
    finite value."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.trial import create_trial

    pts = points[np.isfinite(points[value].astype(float))]
    axes = [a for a in axes if pts[a].nunique(dropna=True) > 1]
    if len(axes) < 2 or len(pts) < 3:
        return {}
    dists = {a.removeprefix("hp."): _distribution(a, pts[a]) for a in axes}
    trials = [create_trial(params={a.removeprefix("hp."): _param(dists[a.removeprefix("hp.")], r[a]) for a in axes},
                           distributions=dists, value=float(r[value])) for _, r in pts.iterrows()]
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # "a new study created in memory"
    try:
        study = optuna.create_study(direction="minimize")
    finally:
        optuna.logging.set_verbosity(before)
    study.add_trials(trials)
    return dict(optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=SEED)))


def importance_table(points: pd.DataFrame, axes: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    """One row per task x optimizer x swept axis, for each (task, optimizer) of ``axes`` (its hp
    columns that vary) with more than one swept axis; ``points``: the analysis' points table."""
    rows = []
    for (task, opt), group_axes in sorted(axes.items()):
        if len(group_axes) < 2:
            continue
        pts = points[(points["task"] == task) & (points["optimizer"] == opt)]
        for param, imp in group_importance(pts, group_axes).items():
            rows.append({"task": task, "optimizer": opt, "param": param, "importance": float(imp),
                         "points": len(pts), "evaluator": EVALUATOR})
    return pd.DataFrame(rows, columns=COLUMNS)
