"""Known-answer tests of the robustness metrics on small hand-built tables.

Every expected number is worked out by hand below (or by brute-force enumeration of all draws),
never by calling the code under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.analysis.bootstrap import interval, seed_counts, weighted_median
from optbasin.analysis.metrics import power_sums

L0 = 5.0
_ids = itertools.count()


def trial(opt, seed, lr, loss=None, status="completed", task="t", init=L0, **hp):
    """One trials-table row; loss=None with status diverged/failed leaves the final loss NaN."""
    return {
        "trial_id": f"id{next(_ids)}",
        "sweep": "s",
        "task": task,
        "task_name": task,
        "optimizer": opt,
        "optimizer_name": opt,
        "seed": seed,
        "hp.lr": lr,
        **{f"hp.{k}": v for k, v in hp.items()},
        "swept": '["lr"]',
        "status": status,
        "init_loss": init,
        "final_train_loss": loss if loss is not None else math.nan,
        "final_val_loss": loss if loss is not None else math.nan,
        "best_val_loss": loss,
        "steps": 100,
        "steps_done": 100,
        "wall_time": 1.0,
        "error": "",
        "attempt": "a",
        "written_at": 0.0,
    }


def div(opt, seed, lr, **kw):
    return trial(opt, seed, lr, None, status="diverged", **kw)


def table_a():
    """Optimizer A on lr = 1e-4 .. 1e-1 (log10 -4..-1), seeds 0, 1, 2, l0 = 5:
    lr 1e-4: 3.0, 3.4, (seed 2 missing)      median 3.2 (2 seeds)
    lr 1e-3: 2.0, 2.2, 2.1                   median 2.1   <- optimum, l* = 2.1
    lr 1e-2: 2.5, diverged (=5), 2.3         median 2.5
    lr 1e-1: diverged x 3 (=5)               median 5.0
    """
    return [
        trial("A", 0, 1e-4, 3.0),
        trial("A", 1, 1e-4, 3.4),
        trial("A", 0, 1e-3, 2.0),
        trial("A", 1, 1e-3, 2.2),
        trial("A", 2, 1e-3, 2.1),
        trial("A", 0, 1e-2, 2.5),
        div("A", 1, 1e-2),
        trial("A", 2, 1e-2, 2.3),
        div("A", 0, 1e-1),
        div("A", 1, 1e-1),
        div("A", 2, 1e-1),
    ]


def table_edge_and_flat():
    """B: loss falls with lr, best at the last grid point (lr 1e-1).  C: a flat curve (2.0 everywhere)."""
    rows = []
    for seed in (0, 1, 2):
        for lr, loss in ((1e-4, 4.0), (1e-3, 3.0), (1e-2, 2.5), (1e-1, 2.0)):
            rows.append(trial("B", seed, lr, loss + 0.01 * seed))
            rows.append(trial("C", seed, lr, 2.0))
    return rows


SETTINGS = {
    "eps": [0.1],
    "delta": [0.5],
    "lr_range": [1e-4, 1e-1],
    "ks": [1, 2, 3],
    "tunability_budget": 3,
    "alpha": 0.05,
    "resamples": 200,
}


@pytest.fixture(scope="module")
def result():
    return analyze(pd.DataFrame(table_a() + table_edge_and_flat()), settings=SETTINGS)


def row(result, opt):
    lb = result.leaderboard
    return lb[lb["optimizer"] == opt].iloc[0]


def test_best_loss_and_point_with_diverged_run_and_missing_seed(result):
    a = row(result, "A")
    assert a["best_loss"] == pytest.approx(2.1)
    assert a["best_lr"] == pytest.approx(1e-3)
    assert a["best_at_edge"] == ""
    assert (a["trials"], a["seeds"], a["points"], a["missing_trials"]) == (11, 3, 4, 1)
    assert (a["diverged"], a["failed"]) == (4, 0)
    pts = result.points[result.points["optimizer"] == "A"].sort_values("hp.lr")
    assert pts["median"].tolist() == pytest.approx([3.2, 2.1, 2.5, 5.0])
    assert pts["n_seeds"].tolist() == [2, 3, 3, 3]
    assert any("A: 1 of 12 point x seed trials missing" in n for n in result.notes)


def test_basin_width_relative_interpolated_in_log_lr(result):
    # T = 2.1 * 1.1 = 2.31. Only lr 1e-3 is inside. Left crossing on the segment (-4, 3.2)-(-3, 2.1):
    # -3 - (2.31 - 2.1) / (3.2 - 2.1); right on (-3, 2.1)-(-2, 2.5): -3 + (2.31 - 2.1) / (2.5 - 2.1).
    low, high = -3 - 0.21 / 1.1, -3 + 0.21 / 0.4
    a = row(result, "A")
    assert a["basin_width_rel0.1"] == pytest.approx(high - low)
    assert a["basin_width_rel0.1_lr_low"] == pytest.approx(10**low)
    assert a["basin_width_rel0.1_lr_high"] == pytest.approx(10**high)
    assert a["basin_width_rel0.1_cut"] == ""


def test_basin_width_absolute(result):
    # T = 2.1 + 0.5 = 2.6: lr 1e-2 (2.5) is inside too. Right crossing on (-2, 2.5)-(-1, 5.0).
    low, high = -3 - 0.5 / 1.1, -2 + 0.1 / 2.5
    assert row(result, "A")["basin_width_abs0.5"] == pytest.approx(high - low)


def test_optimum_at_grid_edge_is_flagged_and_basin_is_a_lower_bound(result):
    b = row(result, "B")
    assert b["best_lr"] == pytest.approx(1e-1)
    assert b["best_at_edge"] == "lr:high"
    # medians 4.0, 3.0, 2.5, 2.0 (seed 1's values); T = 2.2: left crossing on (-2, 2.5)-(-1, 2.01)
    lstar = 2.01
    t = lstar * 1.1
    low = -1 + (-2 - -1) * (t - lstar) / (2.51 - lstar)
    assert b["basin_width_rel0.1"] == pytest.approx(-1 - low)
    assert b["basin_width_rel0.1_cut"] == "high"
    assert any("B: optimum at the grid's edge (lr:high)" in n for n in result.notes)


def test_flat_curve(result):
    c = row(result, "C")
    assert c["best_loss"] == pytest.approx(2.0)
    assert c["basin_width_rel0.1"] == pytest.approx(3.0)  # the whole grid, 3 decades ...
    assert c["basin_width_rel0.1_cut"] == "low+high"  # ... cut on both sides
    assert c["lr_sensitivity"] == pytest.approx(0.0)
    assert c["divergence_rate"] == 0.0
    assert c["expected_best_k1"] == pytest.approx(2.0)
    assert c["basin_width_rel0.1_lo"] == pytest.approx(3.0) and c["basin_width_rel0.1_hi"] == pytest.approx(3.0)


def test_lr_sensitivity_fixed_range(result):
    # log-uniform average (trapezoid in log10 lr) over the 4 grid points of min(l, l0) - l*:
    # gaps 3.2 - 2.1, 0, 2.5 - 2.1, 5.0 - 2.1 at log10 lr -4, -3, -2, -1 (3 decades)
    gaps = [1.1, 0.0, 0.4, 2.9]
    trapezoid = sum((g0 + g1) / 2 for g0, g1 in zip(gaps, gaps[1:])) / 3
    assert row(result, "A")["lr_sensitivity"] == pytest.approx(trapezoid)
    assert row(result, "A")["lr_sensitivity_cut"] == ""


def test_lr_sensitivity_centred_range_and_cut_flag():
    trials = pd.DataFrame(table_a())
    two = analyze(trials, settings={"lr_decades": 2, "resamples": 10}).leaderboard.iloc[0]
    # centred on log10 lr* = -3, 2 decades: [-4, -2] holds lr 1e-4, 1e-3, 1e-2 (gaps 1.1, 0, 0.4)
    assert two["lr_sensitivity"] == pytest.approx(((1.1 + 0.0) / 2 + (0.0 + 0.4) / 2) / 2)
    assert two["lr_sensitivity_cut"] == ""
    three = analyze(trials, settings={"lr_decades": 3, "resamples": 10}).leaderboard.iloc[0]
    # [-4.5, -1.5]: the same three points; the range reaches past the grid's first point
    assert three["lr_sensitivity"] == pytest.approx(((1.1 + 0.0) / 2 + (0.0 + 0.4) / 2) / 2)
    assert three["lr_sensitivity_cut"] == "range"


# the 11 losses of A (a diverged trial counts as l0 = 5)
A_LOSSES = [3.0, 3.4, 2.0, 2.2, 2.1, 2.5, 5.0, 2.3, 5.0, 5.0, 5.0]


def brute_min(values, k):
    """E and Var of the min of k draws with replacement, by enumerating every draw."""
    mins = [min(d) for d in itertools.product(values, repeat=k)]
    return float(np.mean(mins)), float(np.var(mins))


def test_expected_best_after_k_trials(result):
    a = row(result, "A")
    for k in (1, 2, 3):
        assert a[f"expected_best_k{k}"] == pytest.approx(brute_min(A_LOSSES, k)[0])
    assert a["expected_best_k1"] == pytest.approx(sum(A_LOSSES) / 11)
    curve = result.expected_best[result.expected_best["optimizer"] == "A"].set_index("k")
    assert list(curve.index) == list(range(1, 12))  # k = 1..N
    mean2, var2 = brute_min(A_LOSSES, 2)
    assert curve.loc[2, "expected_best"] == pytest.approx(mean2)
    assert curve.loc[2, "sd"] == pytest.approx(math.sqrt(var2))


def test_tunability_weighted_cumulative_performance(result):
    p = [brute_min(A_LOSSES, k)[0] for k in (1, 2, 3)]  # P(1), P(2), P(3); budget K = 3
    a = row(result, "A")
    assert a["tunability_uniform"] == pytest.approx(sum(p) / 3)
    assert a["tunability_early"] == pytest.approx((3 * p[0] + 2 * p[1] + 1 * p[2]) / 6)
    assert a["tunability_late"] == pytest.approx((1 * p[0] + 2 * p[1] + 3 * p[2]) / 6)
    # alpha = 0.05: the first k with P(k) <= 1.05 P(3)
    first = next(k for k in (1, 2, 3) if p[k - 1] <= 1.05 * p[2])
    assert a["alpha_tunability_0.05"] == pytest.approx(first / 3)


def test_divergence_rates(result):
    a = row(result, "A")
    assert a["divergence_rate"] == pytest.approx(4 / 11)  # trials
    assert a["divergence_rate_points"] == pytest.approx(2 / 4)  # grid points with a diverged seed


def test_failed_trial_counts_as_l0_and_is_listed():
    rows = [trial("A", s, 1e-3, 2.0) for s in (0, 1)] + [trial("A", 2, 1e-3, None, status="failed")]
    rows[-1]["error"] = "RuntimeError: boom"
    rows[-1]["init_loss"] = math.nan  # failed before evaluating: takes the task and seed's init loss
    res = analyze(pd.DataFrame(rows), settings={"resamples": 10})
    assert res.trials.loc[res.trials["failed"], "loss"].tolist() == [L0]
    assert res.points["median"].tolist() == [2.0]  # median of 2.0, 2.0, 5.0
    assert res.points["max"].tolist() == [L0]
    assert res.leaderboard["failed"].tolist() == [1]
    assert res.failed["error"].tolist() == ["RuntimeError: boom"]


def test_train_loss_used_when_no_validation_loss():
    rows = [trial("A", s, 1e-3, 2.0) for s in (0, 1)]
    for r, train in zip(rows, (2.0, 1.5)):  # the task reports no validation loss at all
        r["final_val_loss"], r["final_train_loss"] = math.nan, train
    res = analyze(pd.DataFrame(rows), settings={"resamples": 10})
    assert sorted(res.trials["loss"]) == [1.5, 2.0]
    assert res.leaderboard["best_loss"].iloc[0] == pytest.approx(1.75)


# --- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_interval_two_seeds_known_answer():
    """Two seeds: a resample is (seed0, seed0), (seed0, seed1) or (seed1, seed1), with
    probabilities 1/4, 1/2, 1/4, so l* is min(seed-0 losses) = 2.0, min(medians) = 2.4 or
    min(seed-1 losses) = 2.2; the 95% percentile interval runs from 2.0 to 2.4."""
    rows = [trial("A", 0, 1e-3, 2.0), trial("A", 1, 1e-3, 3.0), trial("A", 0, 1e-2, 2.6), trial("A", 1, 1e-2, 2.2)]
    res = analyze(pd.DataFrame(rows), settings={"resamples": 400})
    a = res.leaderboard.iloc[0]
    assert a["best_loss"] == pytest.approx(min(2.5, 2.4))  # medians 2.5, 2.4
    assert a["best_loss_lo"] == pytest.approx(2.0)
    assert a["best_loss_hi"] == pytest.approx(2.4)
    reps = res.replicates[("t", "A")]["best_loss"]
    assert len(reps) == 400 and set(np.round(reps, 9)) == {2.0, 2.2, 2.4}
    share = {v: np.mean(np.isclose(reps, v)) for v in (2.0, 2.2, 2.4)}
    assert share[2.4] == pytest.approx(0.5, abs=0.08) and share[2.0] == pytest.approx(0.25, abs=0.08)


def test_bootstrap_is_reproducible_and_resamples_whole_seeds():
    c1, c2 = seed_counts(4, 50, 0, "t"), seed_counts(4, 50, 0, "t")
    assert (c1 == c2).all()
    assert (c1.sum(axis=1) == 4).all()
    assert not (seed_counts(4, 50, 1, "t") == c1).all()


def test_weighted_median_matches_median_of_expanded_sample():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(6, 4))
    values[2, 1] = np.nan
    counts = rng.integers(0, 3, size=(20, 4))
    got = weighted_median(values, counts)
    for r in range(20):
        for p in range(6):
            sample = np.repeat(values[p], counts[r])
            sample = sample[np.isfinite(sample)]
            want = np.median(sample) if sample.size else np.nan
            assert got[r, p] == pytest.approx(want, nan_ok=True)


def test_interval_is_percentile_interval():
    reps = np.arange(1.0, 102.0)  # 1..101
    assert interval(reps, 0.9) == pytest.approx((6.0, 96.0))


def test_power_sums_closed_form():
    K = 50
    for x in (0.0, 0.3, 0.97, 1 - 1e-5, 1.0):
        u, v = power_sums(np.array([x]), K)
        assert u[0] == pytest.approx(sum(x**k for k in range(1, K + 1)), rel=1e-7)
        assert v[0] == pytest.approx(sum(k * x**k for k in range(1, K + 1)), rel=1e-7)
