"""Calibration and power of the claims' verdicts, by simulation through the whole analysis.

Simulated sweeps: two optimizers A and B on an lr grid of 7 points over 3 decades, loss =
2 + 0.5 (log10 lr + 2.5)^2 + u_s + e, with a seed effect u_s ~ N(0, 0.2) shared by A and B on
seed s (paired seeds, as in a real sweep: same initialization stream and data order) and trial
noise e ~ N(0, sigma = 0.05). Each simulation is one task of one analyze() call; each claim is
then judged on its own (Holm over its 2 one-sided tests), as a single claim of an analysis would.

- Calibration: A and B from the same distribution. The share of decisive verdicts (supported or
  contradicted) must stay at or below the level plus Monte Carlo slack (3 binomial standard
  errors), at 3, 5 and 8 seeds, for the cross-fitted best loss and for the basin width.
- Power: B's loss is 2 sigma higher everywhere; at 8 seeds "A has a lower best loss" must be
  supported in at least 80% of simulations.
- At a margin's boundary: B's loss is higher by exactly the margin (0.1 = 2 sigma); the claim
  "B - A > 0.1" (and every other finding: equivalent, contradicted) must be reached at most at the
  level plus the slack. Equivalence: with no true difference and the same margin, "equivalent"
  must be reached in at least 80% of simulations, and "contradicted" never; at twice the margin
  (B worse by 0.2), "B - A > 0.1" must be supported in at least half of them.
The figures measured are printed (pytest -s shows them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.analysis.claims import evaluate_claims
from optbasin.config import Claim

SIGMA = 0.05
LEVEL = 0.05
SETTINGS = {"resamples": 50, "ks": [1], "eps": [0.1], "delta": [], "level": LEVEL}


def simulate(n_sims: int, seeds: int, shift: float = 0.0, points: int = 7, rng: int = 0) -> pd.DataFrame:
    """Trials table of n_sims simulated tasks ("s0", "s1", ...); B's loss is shifted by shift x sigma."""
    gen = np.random.default_rng([rng, seeds, n_sims])
    log_lr = np.linspace(-4, -1, points)
    curve = 2.0 + 0.5 * (log_lr + 2.5) ** 2
    loss = (
        curve + gen.normal(0, 0.2, size=(n_sims, 1, seeds, 1)) + gen.normal(0, SIGMA, size=(n_sims, 2, seeds, points))
    )
    loss[:, 1] += shift * SIGMA
    sim, opt, seed, pt = np.meshgrid(
        np.arange(n_sims), np.arange(2), np.arange(seeds), np.arange(points), indexing="ij"
    )
    return pd.DataFrame(
        {
            "trial_id": np.arange(loss.size).astype(str),
            "task": np.char.add("s", sim.ravel().astype(str)),
            "optimizer": np.array(["A", "B"])[opt.ravel()],
            "seed": seed.ravel(),
            "hp.lr": 10 ** log_lr[pt.ravel()],
            "status": "completed",
            "init_loss": 10.0,
            "final_val_loss": loss.ravel(),
            "final_train_loss": loss.ravel(),
            "steps_done": 100,
            "wall_time": 1.0,
        }
    )


def per_task_verdicts(trials: pd.DataFrame, claims: dict[str, tuple]) -> pd.DataFrame:
    """(simulation x claim) table of verdicts, each claim judged alone on each simulated task;
    claims: label -> (metric, direction[, extra claim fields])."""
    fields = {
        label: {"metric": c[0], "compare": ("A", "B"), "direction": c[1], **(c[2] if len(c) > 2 else {})}
        for label, c in claims.items()
    }
    first = str(trials["task"].iloc[0])  # the claims' metric columns, computed once (judged below, task by task)
    a = analyze(trials, claims=[Claim(name=label, task=first, **f) for label, f in fields.items()], settings=SETTINGS)
    out = {}
    for task, lb in a.leaderboard.groupby("task"):
        row = {}
        for label in claims:
            claim = Claim(name=label, task=task, **fields[label])
            v, _ = evaluate_claims([claim], lb, a.per_seed, a.settings)
            row[label] = v["verdict"].iloc[0]
        out[task] = row
    return pd.DataFrame.from_dict(out, orient="index")


def verdicts(trials: pd.DataFrame, claims: dict[str, tuple[str, str]]) -> pd.DataFrame:
    return per_task_verdicts(trials, claims)


def slack(n: int) -> float:
    return 3 * math.sqrt(LEVEL * (1 - LEVEL) / n)


@pytest.mark.parametrize("seeds,n_sims", [(3, 100), (5, 100), (8, 400)])
def test_null_gives_decisive_verdicts_at_most_at_the_level(seeds, n_sims):
    v = verdicts(simulate(n_sims, seeds), {"best loss": ("best_loss", "less"), "basin": ("basin_width", "greater")})
    for label in v.columns:
        decisive = v[label].isin(["supported", "contradicted"]).mean()
        print(
            f"\ncalibration: {label}, {seeds} seeds, {n_sims} null simulations: decisive {decisive:.3f} "
            f"(level {LEVEL}, bound {LEVEL + slack(n_sims):.3f}); {v[label].value_counts().to_dict()}"
        )
        assert decisive <= LEVEL + slack(n_sims)
        if seeds < 6:  # 2 x 2^-m > level: no outcome can be decisive, and the verdict says so
            assert (v[label] == "insufficient seeds").all()


def test_two_noise_sds_are_detected_at_8_seeds():
    """Margin 0: the engine's power; the default best-loss margin (0.01 = 0.2 sigma) costs a little."""
    n_sims = 200
    v = verdicts(
        simulate(n_sims, 8, shift=2.0, rng=1),
        {"best loss": ("best_loss", "less", {"margin": 0.0}), "default margin": ("best_loss", "less")},
    )
    power = (v["best loss"] == "supported").mean()
    default = (v["default margin"] == "supported").mean()
    print(
        f"\npower: true difference 2 sigma, 8 seeds, {n_sims} simulations: supported {power:.2f} at margin 0, "
        f"{default:.2f} at the default margin 0.01; {v['best loss'].value_counts().to_dict()}"
    )
    assert power >= 0.8 and default >= 0.7
    assert not v.isin(["contradicted", "equivalent"]).any().any()


FINDINGS = ["supported", "contradicted", "equivalent"]


def test_at_the_margins_boundary_findings_stay_at_the_level():
    """B - A = 0.1 (2 sigma) exactly; claim "B - A > 0.1" with margin 0.1, 8 seeds, one grid. The
    old engine, subtracting the threshold after the swap: 'supported' in 10 of 12 analyses."""
    n = 300
    v = per_task_verdicts(
        simulate(n, 8, shift=2.0, rng=3),
        {"boundary": ("best_loss", "less", {"compare": ("B", "A"), "direction": "greater", "margin": 0.1})},
    )
    found = v["boundary"].isin(FINDINGS).mean()
    print(
        f"\nmargin boundary: B - A = margin = 0.1, 8 seeds, {n} simulations: findings {found:.3f} "
        f"(bound {LEVEL + slack(n):.3f}); {v['boundary'].value_counts().to_dict()}"
    )
    assert found <= LEVEL + slack(n)


def test_equivalence_is_reached_without_a_difference_and_support_beyond_the_margin():
    n = 200
    claims = {"equal": ("best_loss", "less", {"compare": ("B", "A"), "direction": "greater", "margin": 0.1})}
    same = per_task_verdicts(simulate(n, 8, shift=0.0, rng=4), claims)["equal"]
    beyond = per_task_verdicts(simulate(n, 8, shift=4.0, rng=6), claims)["equal"]
    print(
        f"\nequivalence: no difference, margin 0.1 (2 sigma), 8 seeds, {n} simulations: "
        f"{same.value_counts().to_dict()}; B worse by 0.2 (twice the margin): {beyond.value_counts().to_dict()}"
    )
    assert (same == "equivalent").mean() >= 0.7 and not (same == "contradicted").any()
    assert (beyond == "supported").mean() >= 0.5 and not beyond.isin(["contradicted", "equivalent"]).any()
