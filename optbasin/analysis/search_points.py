"""Search points apart from grid points (optbasin/sweeps/provenance.py says where each came from).

The grid metrics (best point, basin, lr sensitivity, per-point seeds, curves) need points laid on
a grid and run at every seed: those of the sweep's grid and of ``refine``. A search's points are
sampled by TPE on one seed; mixed into the grid they would be 1-seed points among full ones (and
"missing" seeds of points nobody planned to repeat). So, per task x optimizer that has grid
points, a search trial counts with the grid only where it lies on a grid point (the refine grid
passes through the search's best point, whose first seed is that search trial itself); the
others are kept apart, drawn as their own markers. Where a task x optimizer has only search
points (a search not yet refined), they are all there is: its best is the best sampled point, and
the metrics that need an lr grid (basin width, lr sensitivity) are undefined (robustness.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optbasin.analysis.loss_table import hp_columns
from optbasin.sweeps.provenance import GRID_SOURCES, sources


def split_search(lt: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(trials the grid metrics use, search trials kept apart, notes); both with a ``source`` column."""
    lt = lt.assign(source=sources(lt))
    keys = ["task", "optimizer", *hp_columns(lt)]
    point = lt.groupby(keys, sort=False, dropna=False).ngroup()  # the grid point of each trial, as index_points groups
    gridded = lt["source"].isin(GRID_SOURCES)
    on_grid_point = point.isin(set(point[gridded]))
    has_grid = gridded.groupby([lt["task"], lt["optimizer"]]).transform("any")
    apart = has_grid & ~on_grid_point
    notes = []
    for (task, opt), n in lt[apart].groupby(["task", "optimizer"], sort=True).size().items():
        notes.append(
            f"{task}/{opt}: {n} search point(s) off the grid kept apart (drawn as markers, in no grid "
            "metric); the grid's points decide the best point, basin and curves"
        )
    search_only = lt[~has_grid & (lt["source"] == "search")]
    for (task, opt), g in search_only.groupby(["task", "optimizer"], sort=True):
        n = len(g)
        if g["failed"].all():  # nothing sampled scored: the failure notes say what is true
            continue
        notes.append(
            f"{task}/{opt}: search points only ({n}, one seed each, placed by the sampler): the best "
            "is the best sampled point; basin width and lr sensitivity need a grid, which "
            "`optbasin refine RUN_DIR` lays around it with every seed"
        )
    return lt[~apart].reset_index(drop=True), lt[apart].reset_index(drop=True), notes


def with_search(grid_trials: pd.DataFrame, search: pd.DataFrame) -> pd.DataFrame:
    """Every trial, for the per-trial views: the grid's (with their point_id) then the search
    points kept apart (point_id -1: on no grid point)."""
    if search.empty:
        return grid_trials
    return pd.concat([grid_trials, search.assign(point_id=np.int64(-1))], ignore_index=True)
