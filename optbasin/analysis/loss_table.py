"""The per-trial loss every metric uses, with divergence and failure marked (docs/statistics.md).

    loss = final_val_loss, or final_train_loss on a task with no validation loss (no trial of
    the task reports one); a trial that did not complete has loss = l0, its loss at
    initialization (init_loss), never dropped (optbasin.status.TrialStatus.counts_as_l0).

A completed trial whose loss is NaN/inf is counted as diverged: on a task with a validation loss
that is its validation loss, whatever its train loss (a finite train loss does not rescue it). A
trial without an init_loss (one that failed before its first evaluation) takes the median init_loss
of its task and seed, else of its task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optbasin.errors import StoreError
from optbasin.status import TrialStatus

REQUIRED = ("trial_id", "task", "optimizer", "seed", "status")
LOSSES = ("init_loss", "final_val_loss")  # required unless every trial failed (a failure may record no loss)
OPTIONAL = {
    "optimizer_name": "",
    "init_loss": np.nan,
    "final_val_loss": np.nan,
    "final_train_loss": np.nan,
    "wall_time": np.nan,
    "steps_done": np.nan,
    "error": "",
    "hp.lr": np.nan,
    "ref_loss": np.nan,
    "floor_loss": np.nan,  # the task's reference loss and known floor (Task.reference_losses)
}


def hp_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("hp.")]


def loss_table(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` plus columns l0, loss, diverged, failed, time_per_step."""
    only_failures = "status" in trials and trials["status"].map(lambda v: TrialStatus.of(v) is TrialStatus.FAILED).all()
    missing = [c for c in (REQUIRED if only_failures else REQUIRED + LOSSES) if c not in trials.columns]
    if missing:
        raise StoreError(f"the trials table lacks the column(s) {', '.join(missing)}; is it an optbasin results store?")
    df = trials.copy()
    for col, default in OPTIONAL.items():
        if col not in df.columns:
            df[col] = default
    df["task"] = df["task"].astype(str)
    df["optimizer"] = df["optimizer"].astype(str)
    df["seed"] = df["seed"].astype("int64")

    l0 = pd.to_numeric(df["init_loss"], errors="coerce").astype(float)
    l0 = l0.where(np.isfinite(l0))
    l0 = l0.fillna(l0.groupby([df["task"], df["seed"]]).transform("median"))
    l0 = l0.fillna(l0.groupby(df["task"]).transform("median"))
    df["l0"] = l0

    val = pd.to_numeric(df["final_val_loss"], errors="coerce").astype(float)
    train = pd.to_numeric(df["final_train_loss"], errors="coerce").astype(float)
    has_val = val.notna().groupby(df["task"]).transform("any")
    raw = val.where(has_val, train)
    status = df["status"].map({v: TrialStatus.of(v).value for v in df["status"].unique()})
    status = status.where(~((status == TrialStatus.COMPLETED.value) & ~np.isfinite(raw)), TrialStatus.DIVERGED.value)
    df["failed"] = status == TrialStatus.FAILED.value
    df["diverged"] = status == TrialStatus.DIVERGED.value
    counts_as_l0 = status.map({st.value: st.counts_as_l0 for st in TrialStatus}).astype(bool)
    df["loss"] = raw.where(~counts_as_l0, df["l0"])

    steps_done = pd.to_numeric(df["steps_done"], errors="coerce").astype(float)
    wall = pd.to_numeric(df["wall_time"], errors="coerce").astype(float)
    # A member of a population (optbasin/training/population.py) records a 1/K share of its population's time:
    # that measures the packing, not the optimizer, so it has no time per step.
    pooled = pd.to_numeric(df["population_size"], errors="coerce") > 1 if "population_size" in df else False
    df["time_per_step"] = (wall / steps_done).where(~df["failed"] & (steps_done > 0) & ~pooled)
    return df
