"""Optuna search through Ray Tune, then `refine`: both feed the same results store."""

from __future__ import annotations

import json
import math

import pandas as pd
import yaml

from optbasin.analysis import analyze_runs
from optbasin.cli import main
from optbasin.dashboards.figures import sensitivity_figure
from optbasin.sweeps import sweep
from optbasin.sweeps.callback import Outcome
from optbasin.sweeps.search import is_refine_run
from tests.conftest import base_sweep


def test_optuna_search_then_refine(tmp_path, capsys, monkeypatch):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [{"name": "adamw", "grid": {"lr": {"log_range": [1e-4, 1.0], "points": 2}}}]
    doc["search"] = {"method": "optuna", "trials": 6}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(doc))

    assert main(["run", str(path), "--quiet"]) == 0
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert len(trials) == 6 and set(trials.source) == {"search"}
    assert set(trials.seed) == {0}  # the search uses the first seed
    lrs = trials["hp.lr"]
    assert lrs.between(1e-4, 1.0).all() and lrs.nunique() == 6  # sampled, not the 2 grid points

    # Searching again finds the budget spent: nothing new runs.
    assert main(["run", str(path), "--quiet"]) == 0
    assert len(pd.read_parquet(tmp_path / "run" / "trials.parquet")) == 6

    best = trials.loc[trials.final_val_loss.fillna(math.inf).idxmin(), "hp.lr"]
    assert main(["refine", str(tmp_path / "run"), "--decades", "0.5", "--per-decade", "2", "--quiet"]) == 0
    refined = yaml.safe_load((tmp_path / "run" / "refine.yaml").read_text())
    lrs = refined["optimizers"][0]["grid"]["lr"]
    assert len(lrs) == 3 and lrs[1] == best  # the best lr itself, unrounded: no near-duplicate point
    assert math.isclose(lrs[0], best / 10**0.5, rel_tol=1e-12) and math.isclose(lrs[2], best * 10**0.5, rel_tol=1e-12)
    after = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    grid = after[after.source == "refine"]
    assert len(grid) == 3 * 2 - 1  # 3 lrs (1 decade, 2 per decade) x 2 seeds; the best's seed 0 is the search's
    assert len(after) == 6 + len(grid) and (after.source == "search").sum() == 6  # the search's results are kept
    assert after["hp.lr"].eq(best).sum() == 2  # the best point: the search's seed 0 and the grid's seed 1
    assert is_refine_run(tmp_path / "run", json.loads((tmp_path / "run" / "meta.json").read_text()))
    planned = []  # resuming a refine (e.g. after an interrupt) runs its grid's trials as refine trials
    monkeypatch.setattr(sweep, "execute", lambda p, **kw: planned.append(p) or Outcome(skipped=len(p.trials)))
    assert main(["resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert len(planned[0].trials) == 6 and {t.source for t in planned[0].trials} == {"refine"}
    monkeypatch.undo()

    # The analysis: grid metrics from the refine grid's 3 points x 2 seeds (the search's seed 0 at the best
    # lr is one of them); the other 5 search points apart, drawn as markers, not in the curve.
    a = analyze_runs([tmp_path / "run"], settings={"resamples": 20, "ks": [1], "tunability_budget": 2})
    lb = a.leaderboard.iloc[0]
    assert (lb["points"], lb["seeds"], lb["trials"], lb["missing_trials"]) == (3, 2, 6, 0)
    assert lb["best_lr"] in lrs and lb["best_seeds"] == 2
    assert not any("point x seed trials missing" in n for n in a.notes)
    assert any("5 search point(s) off the grid kept apart" in n for n in a.notes)
    assert sorted(a.curves.loc[a.curves.axis == "lr", "x"]) == sorted(lrs)
    assert len(a.search) == 5 and set(a.search.source) == {"search"} and not a.search["hp.lr"].isin(lrs).any()
    fig = sensitivity_figure(a, "quadratic")
    markers = [t for t in fig.data if t.name == "adamw search points"]
    assert len(markers) == 1 and markers[0].mode == "markers" and len(markers[0].x) == 5
    curve = next(t for t in fig.data if t.name == "adamw")
    assert sorted(curve.x) == sorted(lrs)


def test_dry_run_of_a_search_counts_what_the_search_runs(tmp_path, capsys):
    """A search of 4 trials on 2 optimizers (one task) runs 8 trials on the first seed, not the grid's
    2 optimizers x 3 points x 2 seeds = 12."""
    doc = base_sweep(tmp_path / "run")
    doc["search"] = {"method": "optuna", "trials": 4}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "'tiny': 8 trials (optuna search, 4 trials per task x optimizer, seed 0)" in out
    assert "12 trials" not in out and "x 2 seeds" not in out


def test_best_lr_is_marked_only_for_an_lr_edge():
    """lr x beta2: the best point is in the middle of its lr slice but on beta2's last value; and a
    search point alone on its lr slice has no lr edge. Neither stars the best lr."""
    from optbasin.analysis import analyze
    from tests.conftest import result_row

    rows = [
        result_row("adamw", s, lr, loss + 0.01 * s, beta2=b2)
        for s in (0, 1)
        for b2, shift in ((0.9, 0.5), (0.999, 0.0))
        for lr, loss in ((1e-3, 2.0 + shift), (1e-2, 1.0 + shift), (1e-1, 3.0 + shift))
    ]
    a = analyze(pd.DataFrame(rows), settings={"resamples": 10, "ks": [1], "tunability_budget": 2})
    lb = a.leaderboard.iloc[0]
    assert lb["best_at_edge"] == "beta2:high" and lb["best_lr"] == 1e-2
    line = next(x for x in a.to_text().splitlines() if " adamw " in x)
    assert "0.01 " in line and "0.01*" not in line
    alone = rows + [result_row("adamw", 0, 3e-3, 0.2, beta2=0.95)]  # one search point, its own slice
    lb = analyze(pd.DataFrame(alone), settings={"resamples": 10, "ks": [1], "tunability_budget": 2}).leaderboard.iloc[0]
    assert "lr:" not in lb["best_at_edge"]
