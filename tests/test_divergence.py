"""Divergence is judged on every loss a trial reports (train and validation), in the single-trial
loop and in the population engine alike; the pooled metrics never score a trial above l0."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.sweeps.spec import expand, load_sweep
from optbasin.tasks.quadratic import QuadraticTask
from optbasin.training.population import run_population
from optbasin.training.single import run_trial
from tests.conftest import base_sweep


@pytest.fixture
def exploding_validation(monkeypatch):
    """The quadratic task's held-out loss, 1000x after the evaluation at initialization; its train
    loss is untouched (the case of Lion at lr 0.1 on digits-mlp: val 6568 vs an initial 2.30)."""
    real = QuadraticTask.evaluate
    calls = {"n": 0}

    def evaluate(self, model, device):
        calls["n"] += 1
        value = real(self, model, device)
        return value if calls["n"] == 1 else 1000.0 * value

    monkeypatch.setattr(QuadraticTask, "evaluate", evaluate)


def sgd_specs(write_sweep, tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc.update(seeds=1, optimizers=[{"name": "sgd", "grid": {"lr": [0.01, 0.03]}}])
    return expand(*load_sweep(write_sweep(doc)))


def test_exploded_validation_loss_diverges_a_single_trial(write_sweep, tmp_path, exploding_validation):
    spec = sgd_specs(write_sweep, tmp_path)[0]
    rows: list[dict] = []
    summary = run_trial(spec, emit=rows.extend)
    limit = spec.divergence_threshold * summary["init_loss"]
    assert rows[-1]["val_loss"] > limit and rows[-1]["train_loss"] < limit  # only the val loss exploded
    assert summary["status"] == "diverged" and summary["steps_done"] == spec.eval_every
    assert math.isnan(summary["final_val_loss"])


def test_exploded_validation_loss_diverges_a_population_member(write_sweep, tmp_path, exploding_validation):
    specs = sgd_specs(write_sweep, tmp_path)
    out: dict[int, dict] = {}
    run_population(specs, lambda i, rows, summary: out.__setitem__(i, (summary, rows)))
    assert sorted(out) == [0, 1]
    for summary, rows in out.values():
        limit = specs[0].divergence_threshold * summary["init_loss"]
        assert rows[-1]["val_loss"] > limit and rows[-1]["train_loss"] < limit
        assert summary["status"] == "diverged" and summary["steps_done"] == specs[0].eval_every


def test_no_pooled_score_exceeds_l0():
    """Completed trials whose loss ended far above l0 (an old store, or a loss under the threshold but
    above the start) are capped at l0 in expected best and tunability: neither exceeds l0."""
    l0, rows = 2.3, []
    for seed in range(3):
        for i, lr in enumerate([1e-3, 1e-2, 1e-1, 1.0]):
            loss = [1.0, 0.8, 6568.0, 6568.0][i] + 0.01 * seed
            rows.append(
                {
                    "trial_id": f"t{seed}{i}",
                    "task": "t",
                    "optimizer": "A",
                    "seed": seed,
                    "hp.lr": lr,
                    "status": "completed",
                    "init_loss": l0,
                    "final_train_loss": 2.32,
                    "final_val_loss": loss,
                    "steps_done": 100,
                    "wall_time": 1.0,
                }
            )
    lb = analyze(pd.DataFrame(rows), settings={"resamples": 20, "ks": [1, 5], "tunability_budget": 10}).leaderboard
    for col in ("expected_best_k1", "expected_best_k5", "tunability_early", "tunability_uniform", "tunability_late"):
        assert np.isfinite(lb[col].iloc[0]) and lb[col].iloc[0] <= l0, col
    # k = 1 is the mean of the capped losses: half the trials at l0, the others 1.0 / 0.8 + 0.01 seed
    assert lb["expected_best_k1"].iloc[0] == pytest.approx((1.0 + 0.8 + 2 * l0) / 4 + 0.005, rel=1e-9)
