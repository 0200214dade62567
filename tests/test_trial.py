"""The trial function on its own (no Ray): determinism, divergence, logging."""

from __future__ import annotations

import math

import pytest

from optbasin.sweeps.spec import expand, load_sweep
from optbasin.training.single import run_trial
from tests.conftest import base_sweep


def trials_of(write_sweep, tmp_path, **override):
    doc = base_sweep(tmp_path / "run")
    doc.update(override)
    return expand(*load_sweep(write_sweep(doc)))


def collect(spec):
    rows = []
    summary = run_trial(spec, emit=rows.extend)
    return summary, rows


def test_same_spec_and_seed_gives_same_numbers(write_sweep, tmp_path):
    trials = trials_of(write_sweep, tmp_path)
    adamw = [t for t in trials if t.optimizer == "adamw"]
    s1, r1 = collect(adamw[0])
    s2, r2 = collect(adamw[0])
    assert s1["final_val_loss"] == s2["final_val_loss"] and r1 == r2
    other_seed = next(t for t in adamw if t.seed != adamw[0].seed and t.hparams == adamw[0].hparams)
    s3, _ = collect(other_seed)
    assert s3["final_val_loss"] != s1["final_val_loss"]


def test_absurd_lr_diverges_early(write_sweep, tmp_path):
    sgd_huge = next(t for t in trials_of(write_sweep, tmp_path) if t.optimizer == "sgd" and t.hparams["lr"] == 100.0)
    summary, rows = collect(sgd_huge)
    assert summary["status"] == "diverged"
    assert summary["steps_done"] < sgd_huge.steps
    assert math.isnan(summary["final_val_loss"])
    last = rows[-1]["train_loss"]
    assert not math.isfinite(last) or last > sgd_huge.divergence_threshold * summary["init_loss"]


def test_divergence_threshold_is_a_setting(write_sweep, tmp_path):
    """A sane lr with a threshold below 1x... is impossible (must be > 1); with a huge threshold the
    absurd lr still stops on NaN/inf."""
    trials = trials_of(write_sweep, tmp_path, divergence={"threshold": 1e30})
    sgd_huge = next(t for t in trials if t.optimizer == "sgd" and t.hparams["lr"] == 100.0)
    summary, rows = collect(sgd_huge)
    assert summary["status"] == "diverged" and not math.isfinite(rows[-1]["train_loss"])


def test_rows_logged_every_log_every_with_evals(write_sweep, tmp_path):
    t = next(t for t in trials_of(write_sweep, tmp_path) if t.optimizer == "adamw")
    summary, rows = collect(t)
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    evaluated = [r["step"] for r in rows if not math.isnan(r["val_loss"])]
    assert evaluated == [20, 40]
    assert summary["status"] == "completed" and summary["final_val_loss"] == rows[-1]["val_loss"]
    assert summary["final_val_loss"] < summary["init_loss"]
    assert all(r["lr"] == t.hparams["lr"] for r in rows)  # constant schedule


def test_grad_clip_and_accumulation(write_sweep, tmp_path):
    """A tiny clip norm bounds every step, so the loss barely moves; accumulation changes the
    numbers (two micro-batches a step) and still learns."""
    doc_budget = {"eval_every": 20, "log_every": 10}
    base = next(
        t
        for t in trials_of(write_sweep, tmp_path, budget=doc_budget)
        if t.optimizer == "sgd" and t.hparams["lr"] == 0.1
    )
    plain, _ = collect(base)
    clipped, _ = collect(base.model_copy(update={"grad_clip": 1e-6}))
    accumulated, _ = collect(base.model_copy(update={"accumulate": 2}))
    assert plain["final_val_loss"] < 0.7 * plain["init_loss"]
    assert clipped["final_val_loss"] == pytest.approx(clipped["init_loss"], rel=1e-3)
    assert accumulated["final_val_loss"] != plain["final_val_loss"]
    assert accumulated["final_val_loss"] < 0.7 * accumulated["init_loss"]
