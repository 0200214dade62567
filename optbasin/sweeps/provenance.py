"""Where a trial's point came from: its ``source`` (a TrialSpec field and trials.parquet column,
not part of the trial's id).

    grid    a point of the sweep file's grid
    search  sampled by an Optuna search (``search: {method: optuna}``)
    refine  a point of the grid ``optbasin refine`` lays around a search's best

Stores written before the column existed have ``origin`` instead ("optuna" or "grid"): those
rows read as "search" and "grid" (a refine trial of such a store reads as "grid").
"""

from __future__ import annotations

import pandas as pd

SOURCES = ("grid", "search", "refine")
GRID_SOURCES = ("grid", "refine")  # points laid on a grid, every seed of the sweep


def sources(trials: pd.DataFrame) -> pd.Series:
    """Each row's source, also for rows of stores written before the column existed."""
    old = pd.Series("grid", index=trials.index, dtype=object)
    if "origin" in trials.columns:
        old = old.where(trials["origin"] != "optuna", "search")
    if "source" not in trials.columns:
        return old
    return trials["source"].where(trials["source"].isin(SOURCES), old).astype(object)
