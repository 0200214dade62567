"""Honest status after interrupts: time accumulated over sessions, the first start kept, failures
counted by their cause. The sweep's trials are replaced by stubs (the real interrupt path, with
Ray and signals, is tests/test_interrupts.py); the clocks are stubs too, so no timing is assumed."""

from __future__ import annotations

import signal

import pytest

from optbasin.cli import main
from optbasin.errors import Interrupted
from optbasin.sweeps import sweep
from optbasin.sweeps.callback import Outcome


@pytest.fixture
def clocks(monkeypatch):
    """sweep.py's monotonic clock and its timestamps, advanced by hand."""
    state = {"t": 1000.0, "day": 1}
    monkeypatch.setattr(sweep, "_clock", lambda: state["t"])
    monkeypatch.setattr(sweep, "_now", lambda: f"2026-01-{state['day']:02d}T00:00:00+00:00")
    return state


def fake_trials(clocks, seconds, interrupt):
    def run_trials(trials, store, **kw):
        clocks["t"] += seconds
        if interrupt:
            raise Interrupted(signal.SIGINT)
        return Outcome()

    return run_trials


def test_interrupt_then_resume_keeps_the_start_and_adds_up_the_time(write_sweep, monkeypatch, clocks, capsys):
    p = sweep.plan(write_sweep())
    monkeypatch.setattr(sweep, "run_trials", fake_trials(clocks, 15.0, interrupt=True))
    with pytest.raises(Interrupted):
        sweep.execute(p, progress=False)
    meta = p.store.read_meta()
    assert meta["elapsed_s"] == pytest.approx(15.0) and meta["interrupted"]["signal"] == "SIGINT"
    assert main(["status", str(p.store.root)]) == 0
    out = capsys.readouterr().out
    assert "interrupted (SIGINT" in out and "15 s of running" in out

    clocks["day"] = 2
    monkeypatch.setattr(sweep, "run_trials", fake_trials(clocks, 7.0, interrupt=False))
    sweep.execute(sweep.resume_plan(p.store.root), progress=False)
    meta = p.store.read_meta()
    assert meta["started_at"].startswith("2026-01-01")  # the first session's start
    assert meta["runs"][-1]["started_at"].startswith("2026-01-02")
    assert meta["elapsed_s"] == pytest.approx(22.0)
    assert [r["ended"] for r in meta["runs"]] == ["interrupted", "finished"]
    assert [r["elapsed_s"] for r in meta["runs"]] == [pytest.approx(15.0), pytest.approx(7.0)]
    assert main(["status", str(p.store.root)]) == 0
    out = capsys.readouterr().out
    assert "started 2026-01-01" in out and "finished 2026-01-02" in out and "22 s of running over 2 sessions" in out


def test_status_counts_failures_by_cause(write_sweep, capsys):
    p = sweep.plan(write_sweep())
    store = p.store
    store.prepare()
    store.write_meta(
        {
            "sweep": p.spec.name,
            "trials_planned": 4,
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:01:00+00:00",
            "elapsed_s": 60.0,
            "runs": [{}],
        }
    )
    errors = [
        "TypeError: __init__() got an unexpected keyword argument 'momentum'\n  more lines",
        "TypeError: __init__() got an unexpected keyword argument 'momentum'",
        "timeout after 600 s",
        "",
    ]
    for i, err in enumerate(errors):
        store.record(
            {
                "trial_id": f"t{i}",
                "task": "quadratic",
                "optimizer": "sgd",
                "seed": 0,
                "status": "failed",
                "error": err,
                "init_loss": float("nan"),
                "final_val_loss": float("nan"),
                "attempt": "a",
            },
            [],
        )
    assert main(["status", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "4/4 trials recorded, 4 failed" in out
    assert "4 failed trials, most common causes:" in out
    assert "  2 x TypeError: __init__() got an unexpected keyword argument 'momentum' (e.g. trial t" in out
    assert "more lines" not in out  # a multi-line error is counted by its first line
    assert "  1 x timeout after 600 s (e.g. trial t2)" in out and "  1 x (no error message recorded)" in out
