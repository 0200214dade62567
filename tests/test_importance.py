"""Optuna's hyperparameter importance (fANOVA) per optimizer over its swept axes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.dashboards import figures as F
from optbasin.dashboards.report import collect_figures
from tests.conftest import result_row as trial

LRS = [1e-4, 1e-3, 1e-2, 1e-1]
CS = [0.1, 0.4, 0.7, 1.0]


def grid(loss_of, opt="N", seeds=3, **extra) -> list[dict]:
    """Trials of ``opt`` on the lr x clamp_c grid, loss_of(lr, c) + a small seed offset."""
    return [
        trial(opt, s, lr, loss_of(lr, c) + 0.001 * s, clamp_c=c, **extra)
        for lr in LRS
        for c in CS
        for s in range(seeds)
    ]


def importances(a, opt="N") -> dict[str, float]:
    imp = a.importance[a.importance["optimizer"] == opt]
    return dict(zip(imp["param"], imp["importance"]))


@pytest.mark.parametrize("matters", ["lr", "clamp_c"])
def test_the_axis_that_matters_gets_the_larger_importance(matters):
    if matters == "lr":
        loss_of = lambda lr, c: 1.0 + (math.log10(lr) + 2.5) ** 2  # noqa: E731
    else:
        loss_of = lambda lr, c: 1.0 + 3 * (c - 0.6) ** 2  # noqa: E731
    a = analyze(pd.DataFrame(grid(loss_of)))
    imp = importances(a)
    other = "clamp_c" if matters == "lr" else "lr"
    assert set(imp) == {"lr", "clamp_c"}
    assert imp[matters] > 0.8 and imp[other] < 0.2, imp
    assert sum(imp.values()) == pytest.approx(1.0)
    assert set(a.importance["evaluator"]) == {"fanova"} and set(a.importance["points"]) == {16}


def test_only_optimizers_with_more_than_one_swept_axis():
    rows = grid(lambda lr, c: 1.0 + abs(math.log10(lr) + 2))
    rows += [trial("A", s, lr, 2.0 + abs(math.log10(lr) + 2)) for lr in LRS for s in range(3)]
    a = analyze(pd.DataFrame(rows))
    assert set(a.importance["optimizer"]) == {"N"}
    assert "importance" in a.to_dict() and len(a.to_dict()["importance"]) == 2


def test_a_categorical_axis_and_diverged_points_count_at_l0():
    """orth (a string axis) decides everything: with 'bad' every seed diverges (loss = l0 = 5)."""
    rows = [
        trial("M", s, lr, 1.0 + 0.01 * s, orth=o) if o == "good" else trial("M", s, lr, math.nan, "diverged", orth=o)
        for lr in LRS
        for o in ("good", "bad")
        for s in range(3)
    ]
    a = analyze(pd.DataFrame(rows))
    imp = importances(a, "M")
    assert imp["orth"] > 0.9, imp


def test_the_report_draws_one_importance_figure_per_task():
    rows = grid(lambda lr, c: 1.0 + (math.log10(lr) + 2.5) ** 2)
    a = analyze(pd.DataFrame(rows))
    fig = F.importance_figure(a, "t")
    assert [tr.name for tr in fig.data] == ["N"]
    bars = dict(zip(fig.data[0].x, fig.data[0].y))
    assert bars == pytest.approx(importances(a))
    keys = [k for _, k, _ in collect_figures(a, None)]
    assert "t-importance" in keys
    lr_only = analyze(pd.DataFrame([trial("A", s, lr, 2.0) for lr in LRS for s in range(2)]))
    assert F.importance_figure(lr_only, "t") is None


def test_nothing_to_attribute_is_undefined_with_the_reason():
    a = analyze(pd.DataFrame(grid(lambda lr, c: 1.0, seeds=1)))
    imp = a.importance
    assert list(imp["param"]) == ["lr", "clamp_c"] and imp["importance"].isna().all()
    assert (imp["undefined"] == "every grid point has the same loss: no variance to attribute").all()
    assert F.importance_figure(a, "t") is None
