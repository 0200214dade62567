"""Merged runs of one task label under different budgets or task parameters are kept apart, and a
report of several runs needs its own output file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.cli import main
from optbasin.sweeps.rows import trial_row
from optbasin.sweeps.spec import expand, load_sweep
from tests.conftest import result_row


def rows_at(steps: int, losses: list[float], schedule: str = '{"kind": "constant"}', params: str = "{}") -> list[dict]:
    out = []
    for seed in (0, 1):
        for lr, loss in zip([1e-3, 1e-2, 1e-1], losses):
            out.append(
                {
                    **result_row("adamw", seed, lr, loss + 0.01 * seed, task="digits-mlp"),
                    "steps": steps,
                    "schedule": schedule,
                    "task_params": params,
                }
            )
    return out


def test_two_budgets_of_one_task_are_two_tasks():
    short, long = rows_at(150, [3.0, 2.0, 2.5]), rows_at(600, [1.0, 0.5, 4.0])
    a = analyze(pd.DataFrame(short + long), settings={"resamples": 20, "ks": [1], "tunability_budget": 2})
    lb = a.leaderboard.set_index("task")
    assert sorted(lb.index) == ["digits-mlp [steps=150]", "digits-mlp [steps=600]"]
    assert lb.loc["digits-mlp [steps=150]", "best_loss"] == pytest.approx(
        2.005
    )  # median of 2.0 and 2.01: its own trials only
    assert lb.loc["digits-mlp [steps=600]", "best_loss"] == pytest.approx(0.505)
    assert (lb["trials"] == 6).all() and (lb["missing_trials"] == 0).all()
    assert any("'digits-mlp' ran with 2 different settings (steps)" in n for n in a.notes)


def test_schedule_and_task_parameters_split_too_and_one_setting_is_untouched():
    one = rows_at(150, [3.0, 2.0, 2.5], params='{"hidden": 32}')
    other = rows_at(150, [3.0, 2.0, 2.5], schedule='{"kind": "warmup_cosine"}', params='{"hidden": 64}')
    lb = analyze(pd.DataFrame(one + other), settings={"resamples": 20, "ks": [1], "tunability_budget": 2}).leaderboard
    assert sorted(lb["task"]) == [
        "digits-mlp [hidden=32, schedule.kind=constant]",
        "digits-mlp [hidden=64, schedule.kind=warmup_cosine]",
    ]
    same = analyze(pd.DataFrame(one), settings={"resamples": 20, "ks": [1], "tunability_budget": 2})
    assert list(same.leaderboard["task"]) == ["digits-mlp"] and not any("settings" in n for n in same.notes)


def test_trials_record_their_schedule(write_sweep, tmp_path):
    spec = expand(*load_sweep(write_sweep(schedule={"kind": "warmup_cosine", "warmup": 0.1})))[0]
    assert json.loads(trial_row(spec, {})["schedule"])["kind"] == "warmup_cosine"


def test_report_of_several_runs_needs_an_output_file(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["report", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "needs -o/--output" in err and str(a / "report.html") in err and "Traceback" not in err
    assert not (a / "report.html").exists()
