"""Known answers for every defect of the old verdict engine (issue 12), each worked out by hand
in the test from the definitions in docs/statistics.md. Each of these failed on the code before
the calibrated engine."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.cli import main
from optbasin.config import LogRange
from tests.conftest import result_row

L0 = 5.0


def row(opt, seed, lr, loss, task="t", **kw):
    return {**result_row(opt, seed, lr, loss, task=task), "init_loss": L0, **kw}


def claim(**kw):
    return {"name": "c", "metric": "best_loss", "compare": ["A", "B"], "direction": "less", "task": "t", **kw}


def one_claim(trials, settings=None, **kw):
    return analyze(pd.DataFrame(trials), claims=[claim(**kw)], settings={"resamples": 300, **(settings or {})})


# --- 1. false verdicts with 3 seeds ----------------------------------------------------------


def test_three_seeds_cannot_support_a_claim():
    """A below B on each of 3 seeds by 1.0: the old percentile interval [-1.1, -0.9] said
    'supported'. 3 seeds give p >= 2^-3 = 0.125: no outcome can reach 0.05."""
    trials = [row(o, s, 1e-3, base + 0.05 * s) for s in range(3) for o, base in (("A", 2.0), ("B", 3.0 + 0.01 * s))]
    v = one_claim(trials).verdicts.iloc[0]
    assert v["verdict"] == "insufficient seeds"
    assert v["p_value"] == pytest.approx(min(1.0, 2 * 2**-3))
    assert "6 seeds needed" in v["reason"]


# --- 2. failure is rewarded ------------------------------------------------------------------


def failing_and_working(seeds=7):
    """F diverges at every lr; W has a clear optimum at 1e-3 (losses 3, 2, 3, 4 + seed/100)."""
    rows = []
    for s in range(seeds):
        for lr, loss in ((1e-4, 3.0), (1e-3, 2.0), (1e-2, 3.0), (1e-1, 4.0)):
            rows.append(row("W", s, lr, loss + 0.01 * s))
            rows.append(row("F", s, lr, math.nan, status="diverged"))
    return rows


def test_an_optimizer_that_always_diverged_gets_no_basin_no_sensitivity_no_tunability():
    a = analyze(pd.DataFrame(failing_and_working()), settings={"resamples": 100, "tunability_budget": 4})
    f = a.leaderboard.set_index("optimizer").loc["F"]
    for col in (
        "basin_width_rel0.1",
        "basin_width_taskrel0.1",
        "lr_sensitivity",
        "tunability_uniform",
        "alpha_tunability_0.01",
    ):
        assert np.isnan(f[col]), col
    assert "nothing was learned" in f["undefined"] or "diverged" in f["undefined"]
    assert any(n.startswith("t/F: basin_width_rel0.1") and " undefined: " in n for n in a.notes)
    # F no longer leads the basin profile: its ratio is infinite, W is the best on the task
    prof = a.profiles[(a.profiles["metric"] == "basin_width_rel0.1") & (a.profiles["tau"] == 1.0)]
    assert prof.set_index("optimizer")["fraction"].to_dict() == {"F": 0.0, "W": 1.0}


@pytest.mark.parametrize("metric,direction", [("basin_width", "greater"), ("lr_sensitivity", "less")])
def test_failure_never_wins_a_robustness_claim(metric, direction):
    window = {"window": [1e-4, 1e-1]} if metric == "lr_sensitivity" else {}
    v = one_claim(
        failing_and_working(), metric=metric, direction=direction, compare=["F", "W"], **window
    ).verdicts.iloc[0]
    assert v["verdict"] == "inconclusive"
    assert "undefined for F" in v["reason"]


# --- 3. opposite effects pooled --------------------------------------------------------------


def test_opposite_task_effects_are_mixed_not_averaged():
    """gpt-tiny: A's best loss lower by 0.94 on each of 7 seeds; quadratic: higher by 0.15.
    The old engine averaged the effects (+0.40) into one verdict."""
    rows = []
    for task, gap in (("gpt-tiny", -0.94), ("quadratic", 0.15)):
        for s in range(7):
            rows += [row("A", s, 1e-3, 3.0 + gap + 0.001 * s, task=task), row("B", s, 1e-3, 3.0, task=task)]
    a = analyze(pd.DataFrame(rows), claims=[claim(task="all")], settings={"resamples": 300})
    v = a.verdicts.iloc[0]
    assert v["verdict"] == "mixed" and np.isnan(v["effect"])
    by = a.verdicts_by_task.set_index("task")
    assert by.loc["gpt-tiny", "verdict"] == "supported" and by.loc["quadratic", "verdict"] == "contradicted"
    assert by.loc["gpt-tiny", "effect"] == pytest.approx(-0.94 + 0.003, abs=1e-9)  # mean of -0.94 + s/1000
    assert by.loc["quadratic", "effect"] == pytest.approx(0.15 + 0.003, abs=1e-9)


# --- 4. winner's curse -----------------------------------------------------------------------


def flat(n_sims, seeds, points_a, points_b, rng=0):
    """Flat curves: every grid point's loss is 2 + u_s + e, e ~ N(0, 0.05): A and B do not differ."""
    gen = np.random.default_rng(rng)
    rows = []
    for i in range(n_sims):
        u = gen.normal(0, 0.2, seeds)
        for opt, points in (("A", points_a), ("B", points_b)):
            for j, lr in enumerate(np.geomspace(1e-4, 1e-1, points)):
                rows += [row(opt, s, float(lr), 2.0 + u[s] + gen.normal(0, 0.05), task=f"s{i}") for s in range(seeds)]
    return pd.DataFrame(rows)


def test_a_four_times_larger_grid_does_not_win_the_best_loss():
    """A: 28 grid points, B: 7, same flat distribution. The old engine's minimum over points
    'supported' A about half the time, and its sign flips of cross-fitted terms on different grids
    were approximate (6.7-8.4% decisive at 8 seeds, issue 23). The grids share 4 points (1e-4,
    1e-3, 1e-2, 1e-1): the verdict is the exact swap test on those, so A wins at most at the
    level (plus Monte Carlo slack), and the footing is stated."""
    n = 60
    trials = flat(n, 8, 28, 7)
    a = analyze(trials, claims=[claim(name=f"c{i}", task=f"s{i}") for i in range(n)], settings={"resamples": 100})
    # judged one claim at a time: the Holm family of a single claim (two one-sided tests)
    from optbasin.analysis.claims import evaluate_claims
    from optbasin.config import Claim

    verdicts, caveats, covered, inside = [], [], 0, 0
    for i, lb in a.leaderboard.groupby("task"):
        v, _ = evaluate_claims([Claim.model_validate(claim(task=i))], lb, a.per_seed, a.settings)
        v = v.iloc[0]
        verdicts.append(v["verdict"])
        caveats.append(v["caveats"])
        covered += v["ci_low"] <= 0.0 <= v["ci_high"]
        inside += v["ci_low"] <= v["effect"] <= v["ci_high"]
    decisive = np.isin(verdicts, ["supported", "contradicted"]).mean()
    assert decisive <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n)
    assert all("decided on the grid points both optimizers ran (4)" in c for c in caveats)
    assert inside == n  # the point estimate is always inside its interval
    assert covered >= 0.8 * n  # and the interval covers the true difference, 0


def test_cross_fitted_best_loss_is_unbiased_on_a_flat_curve():
    """On a flat curve at 2.0 the minimum over 20 points is biased low by about 1.87 noise sds;
    the cross-fitted best loss (chosen on the other seeds, scored on the held-out one) is not."""
    trials = flat(30, 5, 20, 20, rng=3)
    lb = analyze(trials, settings={"resamples": 20}).leaderboard
    seed_means = 2.0  # the u_s average out over tasks; the noise sd is 0.05
    assert lb["best_loss"].mean() < seed_means - 0.03
    assert abs(lb["best_loss_xfit"].mean() - seed_means) < 0.03 + 0.2 * 3 / math.sqrt(30 * 5)


# --- 5. Wortsman LR sensitivity --------------------------------------------------------------


def test_wortsman_window_on_a_log_range_grid_keeps_both_ends():
    """The quickstart-style grid log_range [1e-4, 1e-1], 7 points, stored to 6 significant digits.
    Best at 10^-2.5: the 3-decade window [-4, -1] holds all 7 points; the old 1e-9 tolerance lost
    one end and flagged the window as cut."""
    lrs = LogRange(log_range=(1e-4, 1e-1), points=7).values()
    losses = [4.25, 3.0, 2.25, 2.0, 2.4, 3.5, 5.6]  # l* = 2 at 10^-2.5; l0 = 5 caps the last one
    rows = [row("A", s, lr, loss) for s in range(2) for lr, loss in zip(lrs, losses)]
    lb = analyze(pd.DataFrame(rows), settings={"resamples": 20}).leaderboard.iloc[0]
    gaps = [2.25, 1.0, 0.25, 0.0, 0.4, 1.5, 3.0]  # min(loss, l0) - l*, half a decade apart
    trapezoid = sum(0.5 * (gaps[i] + gaps[i + 1]) * 0.5 for i in range(6)) / 3.0
    assert lb["lr_sensitivity"] == pytest.approx(trapezoid)
    assert lb["lr_sensitivity_cut"] == ""


def test_wortsman_average_is_log_uniform_on_a_refined_grid():
    """A merged grid, log10 lr = -4, -3, -2.9, -2.8, -2, -1 (dense around -2.9): the old unweighted
    mean over-weighted the dense part; trapezoid weights in log10 lr do not."""
    x = np.array([-4, -3, -2.9, -2.8, -2, -1])
    losses = np.array([4.0, 2.0, 2.1, 2.2, 3.0, 4.5])
    rows = [row("A", s, float(10**xi), li) for s in range(2) for xi, li in zip(x, losses)]
    lb = analyze(pd.DataFrame(rows), settings={"resamples": 20, "lr_range": [1e-4, 1e-1]}).leaderboard.iloc[0]
    gaps = losses - 2.0
    area = sum((x[i + 1] - x[i]) * (gaps[i] + gaps[i + 1]) / 2 for i in range(5))
    assert lb["lr_sensitivity"] == pytest.approx(area / 3.0)
    assert lb["lr_sensitivity"] != pytest.approx(gaps.mean())


def test_a_cut_window_makes_a_would_be_verdict_inconclusive():
    """The claim's window [1e-5, 1e-2] reaches past the grid's first point (cut: the average
    covers only two of its three decades). A is less sensitive on every one of 7 seeds,
    but what lies outside B's grid could reverse that. The old engine read 'lr_sensitivity_cut'
    while the leaderboard wrote 'lr_sensitivity_range_cut', so the cut never reached the verdict."""
    rows = []
    for s in range(7):
        for j, lr in enumerate((1e-4, 1e-3, 1e-2, 1e-1)):
            rows.append(row("A", s, lr, (2.4, 2.0, 2.1 + 0.01 * s, 2.4)[j]))
            rows.append(row("B", s, lr, (2.0, 2.5 + 0.01 * s, 3.0, 3.5)[j]))
    a = one_claim(rows, metric="lr_sensitivity", direction="less", window=[1e-5, 1e-2])
    lb = a.leaderboard.set_index("optimizer")
    col = "lr_sensitivity_1e-05_0.01"
    assert lb.loc["B", col + "_cut"] == "range" and lb.loc["A", col + "_cut"] == "range"
    v = a.verdicts.iloc[0]
    assert v["verdict"] == "inconclusive"
    assert "would be supported" in v["reason"] and "could reverse" in v["reason"]


def test_a_cut_basin_only_blocks_the_verdict_it_could_reverse():
    """'A's basin wider than B's': A's basin reaches the grid's end (a lower bound, it can only
    grow), B's closes inside. A cut on A cannot reverse 'A wider': supported stands."""
    rows = []
    for s in range(7):
        for j, lr in enumerate((1e-4, 1e-3, 1e-2, 1e-1)):
            rows.append(row("A", s, lr, (2.0, 2.05, 2.1 + 0.001 * s, 4.0)[j]))
            rows.append(row("B", s, lr, (4.0, 2.0, 4.0 - 0.01 * s, 4.5)[j]))
    v = one_claim(rows, metric="basin_width", direction="greater").verdicts.iloc[0]
    assert v["verdict"] == "supported"
    # now the cut basin is the narrower one: its true width could exceed B's
    rows = []
    for s in range(7):
        for j, lr in enumerate((1e-4, 1e-3, 1e-2, 1e-1)):
            rows.append(row("A", s, lr, (2.0 + 0.001 * s, 4.0, 4.0, 4.0)[j]))
            rows.append(row("B", s, lr, (4.0, 2.0, 2.05, 4.0)[j]))
    for compare, direction, would_be in ((["B", "A"], "greater", "supported"), (["A", "B"], "greater", "contradicted")):
        v = one_claim(rows, metric="basin_width", direction=direction, compare=compare).verdicts.iloc[0]
        assert v["verdict"] == "inconclusive"
        assert f"would be {would_be}" in v["reason"] and "could reverse" in v["reason"]


# --- 6. smaller defects ----------------------------------------------------------------------


def test_near_tied_minima_do_not_make_the_basin_jump():
    """Two valleys: a narrow one at 1e-3 (2.0) and a wide one at 1e-2 .. 1e-1 (2.0 + 1e-6, 2.05,
    2.05). A 2e-6 change of one loss moved the old basin from the narrow to the wide valley; the
    widest qualifying interval is the same either way, and the two intervals are flagged."""
    xs = [1e-4, 1e-3, 10**-2.5, 1e-2, 10**-1.5, 1e-1, 10**-0.5]

    def width(narrow_min):
        losses = [3.0, narrow_min, 3.0, 2.0 + 1e-6, 2.05, 2.05, 3.0]
        rows = [row("A", 0, lr, l) for lr, l in zip(xs, losses)]
        return analyze(pd.DataFrame(rows), settings={"resamples": 10, "eps": [0.1]}).leaderboard.iloc[0]

    lo, hi = width(2.0), width(2.0 + 2e-6)
    assert lo["basin_width_rel0.1"] == pytest.approx(hi["basin_width_rel0.1"], abs=1e-4)
    # the wide valley, threshold 2.2 (to 1e-6): crossings between (-2.5, 3.0) and (-2, 2.0), and
    # between (-1, 2.05) and (-0.5, 3.0)
    assert lo["basin_width_rel0.1"] == pytest.approx((-1 + 0.5 * 0.15 / 0.95) - (-2 - 0.5 * 0.2 / 1.0), abs=1e-5)
    assert bool(lo["basin_width_rel0.1_disjoint"]) and bool(hi["basin_width_rel0.1_disjoint"])


def test_nan_validation_loss_with_finite_train_loss_is_diverged():
    """The task reports a validation loss; one completed trial has NaN validation loss and a
    finite train loss of 1.5. It diverged (loss = l0), it is not scored by its train loss."""
    rows = [row("A", s, 1e-3, 2.0) for s in range(3)]
    rows[1]["final_val_loss"], rows[1]["final_train_loss"] = math.nan, 1.5
    a = analyze(pd.DataFrame(rows), settings={"resamples": 10})
    t = a.trials.set_index("seed")
    assert bool(t.loc[1, "diverged"]) and t.loc[1, "loss"] == L0
    assert a.leaderboard["diverged"].iloc[0] == 1


def test_budgets_beyond_the_trials_run_are_undefined_with_a_note():
    """14 trials (7 points x 2 seeds): E[best of 20] and a tunability budget of 100 are undefined."""
    rows = [
        row("A", s, float(lr), 2.0 + abs(np.log10(lr) + 2.5)) for s in range(2) for lr in np.geomspace(1e-4, 1e-1, 7)
    ]
    a = analyze(pd.DataFrame(rows), settings={"resamples": 10, "ks": [5, 14, 20], "tunability_budget": 100})
    lb = a.leaderboard.iloc[0]
    assert np.isfinite(lb["expected_best_k5"]) and np.isfinite(lb["expected_best_k14"])
    assert np.isnan(lb["expected_best_k20"]) and np.isnan(lb["tunability_uniform"])
    assert any("expected_best_k20" in n and "undefined: budget k beyond the N = 14 trials run" in n for n in a.notes)


def test_validate_finds_a_malformed_claim_before_anything_runs(write_sweep, capsys):
    """Claims are part of the sweep's schema: labels that are not in the sweep, unknown metrics
    and options of another metric are located, with exit code 2 and no traceback."""
    schema = write_sweep(
        name="schema.yaml",
        claims=[
            {"name": "b", "metric": "basin_wdth", "compare": ["sgd", "adamw"], "direction": "less"},
            {"name": "c", "metric": "best_loss", "compare": ["sgd", "adamw"], "direction": "less", "k": 5},
        ],
    )
    labels = write_sweep(
        name="labels.yaml",
        claims=[
            {"name": "a", "metric": "best_loss", "compare": ["sgd", "muonx"], "direction": "less"},
            {"name": "d", "metric": "best_loss", "compare": ["sgd", "adamw"], "direction": "less", "task": "nosuch"},
        ],
    )
    assert main(["validate", str(schema)]) == 2
    err = capsys.readouterr().err
    assert f"{schema}: claims[0].metric: unknown metric 'basin_wdth'" in err
    assert f"{schema}: claims[1]: 'k' applies to metric expected_best_k, not best_loss" in err
    assert main(["validate", str(labels)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{labels}: claims[0].compare: 'muonx' is not an optimizer label of this sweep; expected one of sgd, adamw"
        in err
    )
    assert f"{labels}: claims[1].task: 'nosuch' is not a task label of this sweep" in err
    assert "Traceback" not in err
    for path in (schema, labels):
        assert main(["run", str(path), "--dry-run"]) == 2  # refused before any trial runs
