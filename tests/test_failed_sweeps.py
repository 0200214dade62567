"""A sweep whose every trial fails leaves a usable run directory: nothing optbasin writes is
unreadable to it, an empty dataset reads as empty, and `run` / `status` say why the trials failed."""

from __future__ import annotations

import math

import pandas as pd

from optbasin.analysis.loss_table import loss_table
from optbasin.cli import main
from optbasin.sweeps.failures import failure_lines
from optbasin.sweeps.store import REQUIRED, STEPS, TRIALS, ResultsStore
from tests.test_failures import flaky_catalog, sweep_with


def failed(tid: str) -> dict:
    """A trial that failed before its first evaluation: no loss of any kind."""
    return {
        "trial_id": tid,
        "task": "t",
        "optimizer": "o",
        "seed": 0,
        "hp.lr": 0.1,
        "status": "failed",
        "error": "TypeError: RAdam.__init__() got an unexpected keyword argument 'momentum'",
    }


def test_only_failed_trials_compact_into_parts_that_read_back(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(failed("a"), [])
    store.record(failed("b"), [])
    assert store.compact()
    for sub in (TRIALS, STEPS):  # every part written has the dataset's required columns
        for part in (tmp_path / sub).glob("part-*.parquet"):
            assert set(REQUIRED[sub]) <= set(pd.read_parquet(part).columns), part
    assert sorted(store.trials().trial_id) == ["a", "b"]
    assert store.steps().empty
    store.compact()  # and again, from the merged parts
    assert sorted(store.trials().trial_id) == ["a", "b"] and store.steps().empty


def test_a_part_without_rows_reads_as_nothing_whatever_its_columns(tmp_path):
    """What optbasin before this fix wrote after a sweep of failures: a column-less steps part."""
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(failed("a"), [])
    pd.DataFrame().to_parquet(tmp_path / STEPS / "part-0-merged-1.parquet")
    assert store.steps().empty and list(store.trials().trial_id) == ["a"]


def test_loss_table_of_trials_that_never_evaluated():
    lt = loss_table(pd.DataFrame([failed("a")]))  # no init_loss, no final_val_loss column
    assert bool(lt.loc[0, "failed"]) and math.isnan(lt.loc[0, "loss"])


def test_failure_lines_group_by_message():
    lines = failure_lines([("a", "TypeError: x"), ("b", "ValueError: y"), ("c", "TypeError: x"), ("d", "")])
    assert lines[0] == "2 x TypeError: x (e.g. trial a)"
    assert set(lines[1:]) == {"1 x ValueError: y (e.g. trial b)", "1 x (no error message recorded) (e.g. trial d)"}
    assert failure_lines([(str(i), f"E{i}") for i in range(7)], most=5)[-1] == "... and 2 other error message(s)"


def test_a_sweep_of_failures_keeps_its_run_directory(tmp_path, capsys):
    cat = flaky_catalog(tmp_path, always=True)
    path = sweep_with(tmp_path, [{"name": "flaky", "grid": {"lr": [0.01, 0.1]}}])
    cause = "RuntimeError: boom: simulated failure"
    assert main(["run", str(path), "--catalog", str(cat), "--quiet"]) == 1  # finished, with failures
    err = capsys.readouterr().err
    assert "2 trial(s) failed" in err and f"2 x {cause}" in err
    assert main(["status", str(tmp_path / "run")]) == 0
    assert f"  2 x {cause}" in capsys.readouterr().out
    assert main(["run", str(path), "--catalog", str(cat), "--quiet"]) == 1  # the directory is still usable
    assert main(["analyze", str(tmp_path / "run")]) == 0


def test_a_one_trial_sweep_that_fails_is_summarised(tmp_path, capsys):
    """One failed trial: its trials table has no loss column at all."""
    cat = flaky_catalog(tmp_path, always=True)
    path = sweep_with(tmp_path, [{"name": "flaky"}])
    assert main(["run", str(path), "--catalog", str(cat), "--quiet"]) == 1
    assert "1 x RuntimeError: boom: simulated failure" in capsys.readouterr().err
