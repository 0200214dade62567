"""Two runs of one sweep, trial by trial (the same trial_id): is the status the same, and by how much
(relative) does final_val_loss move, per optimizer, task and lr (max over seeds).

    .venv/bin/python benchmarks/compare_runs.py RUN_A RUN_B
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(a_dir: str, b_dir: str) -> None:
    a, b = (pd.read_parquet(Path(d) / "trials.parquet").set_index("trial_id") for d in (a_dir, b_dir))
    b = b.loc[a.index]
    rel = (a.final_val_loss - b.final_val_loss).abs() / a.final_val_loss.abs()
    table = a[["optimizer", "task", "hp.lr"]].assign(rel=rel).groupby(["optimizer", "task", "hp.lr"]).rel.max()
    print(table.unstack(0).to_string(float_format=lambda x: f"{x:.1e}"))
    print(
        f"trials {len(a)}; same status: {int((a.status == b.status).sum())}; "
        f"same steps_done: {int((a.steps_done == b.steps_done).sum())}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
