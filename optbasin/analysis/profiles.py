"""Performance profiles across tasks, in the spirit of AlgoPerf (docs/statistics.md).

For a metric and a task, an optimizer's ratio is its value over the best optimizer's value
(best over value for a metric where higher is better, e.g. basin width), so 1 is the best and
larger is worse; an optimizer missing on a task, or with a NaN value, has ratio inf. The profile
rho(tau) is the fraction of tasks where the ratio is <= tau: a step function, tabulated at every
ratio that occurs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ratios(leaderboard: pd.DataFrame, column: str, lower_is_better: bool) -> pd.DataFrame:
    """(task x optimizer) table of ratios to the task's best value."""
    table = leaderboard.pivot(index="task", columns="optimizer", values=column).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if lower_is_better:
            best = table.min(axis=1)
            r = table.div(best, axis=0)
        else:
            best = table.max(axis=1)
            r = 1.0 / table.div(best, axis=0)
    r = r.where(~table.eq(best, axis=0), 1.0)  # the best is 1 even when it is 0
    return r.fillna(np.inf)


def performance_profile(leaderboard: pd.DataFrame, column: str, lower_is_better: bool) -> pd.DataFrame:
    """Long table (metric, optimizer, tau, fraction)."""
    if leaderboard.empty:
        return pd.DataFrame(columns=["metric", "optimizer", "tau", "fraction"])
    r = ratios(leaderboard, column, lower_is_better)
    finite = r.to_numpy()[np.isfinite(r.to_numpy())]
    taus = np.unique(np.concatenate([[1.0], finite]))
    rows = []
    for opt in r.columns:
        frac = (r[opt].to_numpy()[None, :] <= taus[:, None]).mean(axis=1)
        rows.append(pd.DataFrame({"metric": column, "optimizer": opt, "tau": taus, "fraction": frac}))
    return pd.concat(rows, ignore_index=True)
