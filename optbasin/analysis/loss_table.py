"""The per-trial loss every metric uses, with divergence and failure marked (robustness.md).

    loss = final_val_loss, or final_train_loss where the task has no validation loss;
    a diverged or failed trial has loss = l0, its loss at initialization (init_loss), never dropped.

A completed trial whose loss is NaN/inf is counted as diverged. A trial without an init_loss
(one that failed before its first evaluation) takes the median init_loss of its task and seed,
else of its task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optbasin.errors import StoreError

REQUIRED = ("trial_id", "task", "optimizer", "seed", "status", "init_loss", "final_val_loss")
OPTIONAL = {
    "optimizer_name": "", "final_train_loss": np.nan, "wall_time": np.nan,
    "steps_done": np.nan, "error": "", "hp.lr": np.nan,
}


def hp_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("hp.")]


def loss_table(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` plus columns l0, loss, diverged, failed, time_per_step."""
    missing = [c for c in REQUIRED if c not in trials.columns]
    if missing:
        raise StoreError(f"the trials table lacks the column(s) {', '.join(missing)}; "
                         "is it an optbasin results store?")
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
    raw = val.where(val.notna(), train)
    status = df["status"].astype(str)
    df["failed"] = ~status.isin(["completed", "diverged"])
    df["diverged"] = (status == "diverged") | ((status == "completed") & ~np.isfinite(raw))
    df["loss"] = raw.where(~(df["diverged"] | df["failed"]), df["l0"])

    steps_done = pd.to_numeric(df["steps_done"], errors="coerce").astype(float)
    wall = pd.to_numeric(df["wall_time"], errors="coerce").astype(float)
    df["time_per_step"] = (wall / steps_done).where(~df["failed"] & (steps_done > 0))
    return df
