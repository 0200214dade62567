"""Each trial's source (grid / search / refine): recorded without touching trial ids, read back from
stores written before the column existed, and used by the analysis to keep search points apart."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pydantic import ValidationError

from optbasin.analysis import analyze
from optbasin.dashboards import figures as F
from optbasin.sweeps.provenance import sources
from optbasin.sweeps.rows import trial_row
from optbasin.sweeps.spec import expand, load_sweep
from tests.conftest import result_row

SETTINGS = {"resamples": 10, "ks": [1], "tunability_budget": 2}


def test_source_is_recorded_and_leaves_the_trial_id_alone(write_sweep):
    spec = expand(*load_sweep(write_sweep()))[0]
    assert spec.source == "grid" and trial_row(spec, {})["source"] == "grid"
    for source in ("search", "refine"):
        other = spec.model_copy(update={"source": source})
        assert other.trial_id == spec.trial_id and trial_row(other, {})["source"] == source
    with pytest.raises(ValidationError):
        type(spec).model_validate({**spec.model_dump(), "source": "optuna"})


def test_stores_without_the_column_read_from_their_origin():
    """Rows of older stores have `origin` (optuna / grid) and no `source`; a store that holds both
    kinds of rows (older parts, then newer ones) reads each row from what it has."""
    old = pd.DataFrame({"origin": ["optuna", "grid", "optuna"]})
    assert list(sources(old)) == ["search", "grid", "search"]
    mixed = pd.DataFrame({"origin": ["optuna", "grid", None], "source": [None, None, "refine"]})
    assert list(sources(mixed)) == ["search", "grid", "refine"]
    assert list(sources(pd.DataFrame({"x": [1, 2]}))) == ["grid", "grid"]


def search_and_refine_rows():
    """A: 4 search points on seed 0 (lr 1e-3, 3e-3, 1e-2, 3e-2), then a refine grid (1.5e-3, 3e-3, 6e-3)
    on seeds 0 and 1, whose (3e-3, seed 0) trial is the search's own."""
    rows = [
        dict(result_row("A", 0, lr, loss), source="search")
        for lr, loss in ((1e-3, 2.0), (3e-3, 1.0), (1e-2, 0.5), (3e-2, 3.0))
    ]
    rows += [
        dict(result_row("A", s, lr, loss + 0.1 * s), source="refine")
        for s in (0, 1)
        for lr, loss in ((1.5e-3, 1.4), (3e-3, 1.0), (6e-3, 1.2))
        if (lr, s) != (3e-3, 0)
    ]
    return pd.DataFrame(rows)


def test_grid_metrics_use_the_grid_points_only():
    a = analyze(search_and_refine_rows(), settings=SETTINGS)
    lb = a.leaderboard.iloc[0]
    # 3 refine points x 2 seeds, one of them the search's own trial; nothing missing
    assert (lb["points"], lb["trials"], lb["missing_trials"], lb["best_seeds"]) == (3, 6, 0, 2)
    # the lone seed at 1e-2 (0.5) beats every grid median but is no grid point: the best lr is the grid's
    assert lb["best_lr"] == 3e-3 and lb["best_loss"] == pytest.approx(1.05)
    assert sorted(a.curves["x"]) == [1.5e-3, 3e-3, 6e-3]
    assert sorted(a.search["hp.lr"]) == [1e-3, 1e-2, 3e-2] and len(a.trials) == 9  # every trial still listed
    assert not any("trials missing" in n for n in a.notes)
    assert any("A: 3 search point(s) off the grid kept apart" in n for n in a.notes)
    fig = F.sensitivity_figure(a, "t")
    marks = next(t for t in fig.data if t.name == "A search points")
    assert marks.mode == "markers" and sorted(marks.x) == [1e-3, 1e-2, 3e-2]
    assert sorted(next(t for t in fig.data if t.name == "A").x) == [1.5e-3, 3e-3, 6e-3]


def test_a_search_not_yet_refined_is_drawn_as_points_not_a_curve():
    rows = search_and_refine_rows()
    a = analyze(rows[rows.source == "search"], settings=SETTINGS)
    assert a.leaderboard.iloc[0]["points"] == 4 and a.search.empty
    assert any("search points only (4, one seed each" in n for n in a.notes)
    lb = a.leaderboard.iloc[0]
    assert lb["best_lr"] == 1e-2 and math.isnan(lb["basin_width_rel0.1"]) and math.isnan(lb["lr_sensitivity"])
    assert "basin_width_rel0.1: search points only, no lr grid" in lb["undefined"]
    fig = F.sensitivity_figure(a, "t")
    assert next(t for t in fig.data if t.name == "A (search points)").mode == "markers"
    assert not any(t.name == "A" for t in fig.data)


def test_every_trial_failed_says_so_instead_of_nan():
    rows = pd.DataFrame([result_row("A", s, lr, math.nan, "failed") for s in (0, 1) for lr in (1e-3, 1e-2)])
    a = analyze(rows, settings=SETTINGS)
    text = a.to_text()
    assert "nan%" not in text and " nan " not in text
    assert "t/A: no completed trial: all 4 failed" in text
