"""A quick per-optimizer summary printed at the end of ``optbasin run``."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from optbasin.sweeps.store import ResultsStore


def quick_summary(run_dir: Path, tolerance: float = 0.1) -> str:
    """Per task and optimizer: best lr, best final loss (median over seeds), a crude basin width
    (decades of lr between the extreme grid points within (1 + tolerance) x best), divergences."""
    trials = ResultsStore(run_dir).trials()
    if trials.empty:
        return "no trials recorded"
    df = trials.assign(loss=trials["final_val_loss"].where(trials["status"] == "completed", trials["init_loss"]))
    lines = [f"{'task':<14} {'optimizer':<14} {'best lr':>9} {'best loss':>10} {'basin':>7} {'diverged':>9} {'failed':>7}"]
    for (task, opt), g in df.groupby(["task", "optimizer"], sort=True):
        by_lr = g.groupby("hp.lr")["loss"].median().sort_index().dropna()
        if by_lr.empty:
            lines.append(f"{task:<14} {opt:<14} {'(no result: every trial failed)':>28} {len(g):>17}")
            continue
        best_lr, best = by_lr.idxmin(), by_lr.min()
        good = by_lr[by_lr <= best * (1 + tolerance)].index
        basin = math.log10(good.max() / good.min()) if len(good) else float("nan")
        lines.append(f"{task:<14} {opt:<14} {best_lr:>9.3g} {best:>10.4f} {basin:>6.2f}d "
                     f"{int((g['status'] == 'diverged').sum()):>9} {int((g['status'] == 'failed').sum()):>7}")
    lines.append(f"(loss: median over seeds of the final validation loss, diverged = initial loss; "
                 f"basin: decades of lr within {tolerance:.0%} of the best)")
    return "\n".join(lines)
