"""Calibration and power of the claims' verdicts with more simulations than the suite runs
(the suite: tests/test_analysis_calibration.py, whose simulator this reuses).

    PYTHONPATH=. python benchmarks/calibration.py [n_sims]     # default 500 per run, about 1 minute

Prints, per scenario, the verdict counts over n_sims simulated tasks at 8 seeds (two RNG seeds
each): the null (A and B from the same distribution), B worse by 2 noise sds, and both again with
B's optimum one decade away from A's (equal best loss under the "null"); then a margin's boundary
(B worse by exactly the margin 0.1 = 2 sigma, claim "B - A > 0.1": every finding is an error).
"""

from __future__ import annotations

import sys

import numpy as np

from tests import test_analysis_calibration as C


def shifted_optimum(trials, decades: float):
    """Move B's curve: its optimum sits `decades` to the right of A's (same minimum)."""
    b = trials["optimizer"] == "B"
    x = np.log10(trials.loc[b, "hp.lr"].to_numpy())
    moved = 0.5 * (x + 2.5 - decades) ** 2 - 0.5 * (x + 2.5) ** 2
    out = trials.copy()
    for col in ("final_val_loss", "final_train_loss"):
        out.loc[b, col] = out.loc[b, col] + moved
    return out


def main(n: int) -> None:
    claims = {"best loss": ("best_loss", "less"), "basin": ("basin_width", "greater")}
    for name, shift, decades in (
        ("null", 0.0, 0.0),
        ("2 sd", 2.0, 0.0),
        ("null, optima 1 decade apart", 0.0, 1.0),
        ("2 sd, optima 1 decade apart", 2.0, 1.0),
    ):
        for rng in (21, 22):
            trials = shifted_optimum(C.simulate(n, 8, shift=shift, rng=rng), decades)
            v = C.verdicts(trials, claims)
            counts = {c: v[c].value_counts().to_dict() for c in v.columns}
            print(f"{name:<30} rng {rng}: {counts}", flush=True)
    boundary = {"boundary": ("best_loss", "less", {"compare": ("B", "A"), "direction": "greater", "margin": 0.1})}
    for rng in (21, 22):
        v = C.per_task_verdicts(C.simulate(n, 8, shift=2.0, rng=rng), boundary)
        print(f"{'margin boundary':<30} rng {rng}: {v['boundary'].value_counts().to_dict()}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
