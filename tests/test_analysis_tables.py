"""Curves, surfaces, per-parameter best curves, mechanism views, performance profiles and the
outputs (text, CSV, JSON), on hand-built tables with hand-worked answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.analysis.profiles import performance_profile
from tests.conftest import result_row as trial

# NAMO-D on lr (1e-3, 1e-2, 1e-1) x clamp_c (0.4, 0.9), seeds 0..2; loss = base + 0.1 * seed:
#            lr 1e-3   1e-2   1e-1
#   c 0.4      3.0     2.5    diverged (all seeds)
#   c 0.9      2.8     2.2    2.6
# best point: lr 1e-2, c 0.9 (median 2.3)
GRID = {(1e-3, 0.4): 3.0, (1e-2, 0.4): 2.5, (1e-1, 0.4): None, (1e-3, 0.9): 2.8, (1e-2, 0.9): 2.2, (1e-1, 0.9): 2.6}


def namo_d_rows():
    rows = []
    for (lr, c), base in GRID.items():
        for s in range(3):
            if base is None:
                rows.append(trial("namo_d", s, lr, math.nan, status="diverged", clamp_c=c))
            else:
                rows.append(trial("namo_d", s, lr, base + 0.1 * s, clamp_c=c))
    return rows


def steps_for(trials: pd.DataFrame) -> pd.DataFrame:
    """Two logged rows per trial: diag.clamped_frac = c and c + 0.2 (mean c + 0.1), plus seed / 100."""
    rows = []
    for _, t in trials.iterrows():
        for i, step in enumerate((10, 20)):
            rows.append(
                {
                    "trial_id": t["trial_id"],
                    "attempt": "a",
                    "step": step,
                    "train_loss": 3.0,
                    "val_loss": math.nan,
                    "lr": t["hp.lr"],
                    "diag.clamped_frac": t["hp.clamp_c"] + 0.2 * i + t["seed"] / 100,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def result():
    trials = pd.DataFrame(namo_d_rows())
    return analyze(trials, steps_for(trials), settings={"resamples": 50})


def test_sensitivity_curve_along_lr_at_best_c(result):
    lr = result.curves[result.curves["axis"] == "lr"]
    assert lr["x"].tolist() == pytest.approx([1e-3, 1e-2, 1e-1])
    assert lr["median"].tolist() == pytest.approx([2.9, 2.3, 2.7])  # c = 0.9 row, seed 1
    assert lr["min"].tolist() == pytest.approx([2.8, 2.2, 2.6])
    assert lr["max"].tolist() == pytest.approx([3.0, 2.4, 2.8])
    # quartiles of three values a < b < c (linear): a + (b - a) / 2 and b + (c - b) / 2
    assert lr["q25"].tolist() == pytest.approx([2.85, 2.25, 2.65])
    assert lr["q75"].tolist() == pytest.approx([2.95, 2.35, 2.75])


def test_sensitivity_curve_along_c_at_best_lr(result):
    c = result.curves[result.curves["axis"] == "clamp_c"]
    assert c["x"].tolist() == pytest.approx([0.4, 0.9])
    assert c["median"].tolist() == pytest.approx([2.6, 2.3])


def test_surface_marks_diverged_cell(result):
    s = result.surfaces.sort_values(["y", "lr"])
    assert s["y_axis"].unique().tolist() == ["clamp_c"]
    assert len(s) == 6
    diverged = s[s["n_diverged"] == s["n_seeds"]]
    assert list(zip(diverged["lr"], diverged["y"])) == [(pytest.approx(1e-1), pytest.approx(0.4))]
    assert diverged["median"].tolist() == [5.0]  # counted as l0


def test_best_along_c_at_each_cs_best_lr(result):
    b = result.best_along.sort_values("value")
    assert b["value"].tolist() == pytest.approx([0.4, 0.9])
    assert b["best_loss"].tolist() == pytest.approx([2.6, 2.3])
    assert b["best_lr"].tolist() == pytest.approx([1e-2, 1e-2])


def test_leaderboard_best_point_and_basin_along_c(result):
    lb = result.leaderboard.iloc[0]
    assert json.loads(lb["best_point"]) == {"lr": 1e-2, "clamp_c": 0.9}
    assert lb["best_at_edge"] == "clamp_c:high"
    # basin along c (linear axis: units of c) at eps 0.1: T = 2.53; crossing on (0.4, 2.6)-(0.9, 2.3)
    row = result.basins[(result.basins["axis"] == "clamp_c") & (result.basins["tolerance"] == "rel0.1")].iloc[0]
    low = 0.9 + (0.4 - 0.9) * (2.53 - 2.3) / (2.6 - 2.3)
    assert row["low"] == pytest.approx(low) and row["high"] == pytest.approx(0.9)
    assert row["width"] == pytest.approx(0.9 - low) and row["cut_high"] and row["units"] == "clamp_c"


def test_mechanism_clamped_fraction_per_point(result):
    m = result.mechanisms.sort_values(["hp.clamp_c", "hp.lr"])
    # per trial mean over its two rows: c + 0.1 + seed / 100; median over seeds 0..2: c + 0.11
    assert m["diag.clamped_frac"].tolist() == pytest.approx([0.51, 0.51, 0.51, 1.01, 1.01, 1.01])


def test_performance_profile_by_hand():
    lb = pd.DataFrame(
        {"task": ["t", "t", "u", "u"], "optimizer": ["A", "B", "A", "B"], "best_loss": [2.0, 3.0, 4.0, 2.0]}
    )
    prof = performance_profile(lb, "best_loss", lower_is_better=True)
    # ratios: t: A 1, B 1.5; u: A 2, B 1
    a = prof[prof["optimizer"] == "A"].set_index("tau")["fraction"]
    b = prof[prof["optimizer"] == "B"].set_index("tau")["fraction"]
    assert list(a.index) == [1.0, 1.5, 2.0]
    assert a.tolist() == [0.5, 0.5, 1.0] and b.tolist() == [0.5, 1.0, 1.0]
    wide = pd.DataFrame({"task": ["t", "t"], "optimizer": ["A", "B"], "basin": [2.0, 0.5]})
    prof = performance_profile(wide, "basin", lower_is_better=False)  # B's ratio: 2.0 / 0.5 = 4
    assert prof[prof["optimizer"] == "B"].set_index("tau")["fraction"].to_dict() == {1.0: 0.0, 4.0: 1.0}


def test_outputs(result, tmp_path):
    text = result.to_text()
    assert "namo_d" in text and "clamp_c" not in text.split("\n")[0]
    paths = result.write(tmp_path / "out")
    assert (tmp_path / "out" / "leaderboard.csv") in paths
    lb = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert lb["best_loss"].iloc[0] == pytest.approx(2.3)
    doc = json.loads(result.to_json(tmp_path / "a.json").read_text())  # strict JSON: NaN written as null
    assert doc["leaderboard"][0]["optimizer"] == "namo_d"
    assert doc["settings"]["resamples"] == 50


def test_empty_trials():
    res = analyze(pd.DataFrame())
    assert res.leaderboard.empty and res.to_text() == "no trials recorded yet"


def test_missing_column_is_a_store_error():
    from optbasin.errors import StoreError

    with pytest.raises(StoreError, match="init_loss"):
        analyze(
            pd.DataFrame(
                [
                    {
                        "trial_id": "a",
                        "task": "t",
                        "optimizer": "o",
                        "seed": 0,
                        "status": "completed",
                        "final_val_loss": 1.0,
                    }
                ]
            )
        )


def test_settings_are_validated():
    from optbasin.errors import ConfigError

    with pytest.raises(ConfigError, match="resamples"):
        analyze(pd.DataFrame(namo_d_rows()), settings={"resamples": 0})
    with pytest.raises(ConfigError, match="colour"):
        analyze(pd.DataFrame(namo_d_rows()), settings={"colour": 1})
    assert np.isfinite(analyze(pd.DataFrame(namo_d_rows()), settings={"resamples": 5}).leaderboard["best_loss"]).all()


def test_population_members_have_no_time_per_step():
    """A population member records a 1/K share of its population's wall time: a time per step from it
    would rank packing, not optimizers. Undefined with a reason; trials timed alone keep theirs."""
    rows = [trial(o, s, lr, 1.0 + 0.1 * lr) for o in ("A", "B") for s in range(2) for lr in (0.1, 1.0)]
    for r in rows:
        r["population_size"] = 2.0 if r["optimizer"] == "A" else math.nan
    board = analyze(pd.DataFrame(rows), settings={"resamples": 10}).leaderboard.set_index("optimizer")
    assert (
        math.isnan(board.loc["A", "time_per_step"])
        and "time_per_step: no trial timed alone" in board.loc["A", "undefined"]
    )
    assert board.loc["B", "time_per_step"] == 1.0 / 100  # wall_time 1 s over 100 steps


def test_a_seed_missing_a_point_borrows_the_median_of_every_seed_not_seed_0():
    """Seed 2 never ran lr = 1.0: for its own per-seed value (what the claims' paired test compares)
    that point takes the median over every seed, (0.5 + 0.9) / 2 = 0.7, not seed 0's 0.5."""
    losses = {0: {0.1: 1.0, 0.3: 1.0, 1.0: 0.5}, 1: {0.1: 1.0, 0.3: 1.0, 1.0: 0.9}, 2: {0.1: 0.8, 0.3: 0.8}}
    rows = [trial("A", s, lr, loss) for s, d in losses.items() for lr, loss in d.items()]
    seed2 = analyze(pd.DataFrame(rows), settings={"resamples": 10}).per_seed[("t", "A")].values["lr_sensitivity"][2]
    # Wortsman by hand: gaps to l* = 0.7 are 0.1, 0.1, 0 at log10 lr = -1, log10 0.3, 0 (trapezoid weights)
    x = [-1.0, math.log10(0.3), 0.0]
    expected = ((x[1] - x[0]) * (0.1 + 0.1) / 2 + (x[2] - x[1]) * (0.1 + 0.0) / 2) / (x[2] - x[0])
    assert seed2 == pytest.approx(expected)
