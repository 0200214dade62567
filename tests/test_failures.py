"""Surviving: kill -9 of the driver then resume; failing trials retried then recorded; bad
input refused with exit 2 and nothing in the output directory damaged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from optbasin.cli import main
from optbasin.sweeps.store import ResultsStore
from tests.conftest import base_sweep, kill_driver_after_parts

FLAKY = '''
import os, torch

class Flaky(torch.optim.SGD):
    """Raises on its first construction in a process that has not seen the marker file."""
    def __init__(self, params, lr=0.1, marker="", always=False):
        if always or not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("boom: simulated failure")
        super().__init__(params, lr=lr)
'''


def flaky_catalog(tmp_path: Path, always: bool) -> Path:
    cat = tmp_path / "cat"
    cat.mkdir(exist_ok=True)
    (cat / "flaky_mod.py").write_text(FLAKY)
    (cat / "flaky.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "optimizer",
                "name": "flaky",
                "class": "flaky_mod:Flaky",
                "hyperparameters": {
                    "lr": {"default": 0.01, "gt": 0},
                    "marker": {"type": "str", "default": str(tmp_path / "marker")},
                    "always": {"type": "bool", "default": always},
                },
            }
        )
    )
    return cat


def sweep_with(tmp_path, optimizers, **extra) -> Path:
    doc = base_sweep(tmp_path / "run")
    doc["seeds"] = 1
    doc["optimizers"] = optimizers
    doc.update(extra)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_failing_trial_is_recorded_and_the_sweep_continues(tmp_path, capsys):
    cat = flaky_catalog(tmp_path, always=True)
    path = sweep_with(tmp_path, [{"name": "flaky"}, {"name": "adamw", "grid": {"lr": [0.01]}}], retries=1)
    assert main(["run", str(path), "--catalog", str(cat), "--quiet"]) == 1  # finished, with failures
    err = capsys.readouterr().err
    assert "1 trial(s) failed" in err and "RuntimeError: boom: simulated failure" in err
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet").set_index("optimizer")
    assert trials.loc["flaky", "status"] == "failed" and trials.loc["flaky", "attempts"] == 2
    assert trials.loc["flaky", "error"] == "RuntimeError: boom: simulated failure"
    assert trials.loc["adamw", "status"] == "completed"


def test_failure_then_success_on_retry(tmp_path):
    cat = flaky_catalog(tmp_path, always=False)
    path = sweep_with(tmp_path, [{"name": "flaky"}], retries=1)
    assert main(["run", str(path), "--catalog", str(cat), "--quiet"]) == 0
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert list(trials.status) == ["completed"] and trials.error.iloc[0] == ""


def test_kill_driver_then_resume(tmp_path):
    """kill -9 the driver mid-sweep; resume finishes it. Trials finished before the kill keep
    their original attempt (not run twice); every planned trial ends up recorded once."""
    doc = base_sweep(tmp_path / "run")
    doc["tasks"][0]["steps"] = 1500
    doc["optimizers"] = [{"name": "adamw", "grid": {"lr": {"log_range": [1e-4, 1e-1], "points": 8}}}]
    doc["population"] = 1  # trials one at a time, so that they finish one by one (populations: test_population.py)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    kill_driver_after_parts(path, tmp_path / "run", 3)
    before = ResultsStore(tmp_path / "run").trials()
    assert 3 <= len(before) < 16

    assert main(["resume", str(tmp_path / "run"), "--quiet"]) == 0
    after = ResultsStore(tmp_path / "run").trials()
    assert len(after) == 16 and after.trial_id.is_unique
    kept = after.set_index("trial_id").loc[before.trial_id, "attempt"]
    assert list(kept) == list(before.attempt)  # finished trials were not run again


def test_missing_data_file_refused(tmp_path, capsys):
    doc = base_sweep(tmp_path / "run")
    doc["tasks"] = [{"name": "gpt-tiny", "params": {"text_file": "no/such/corpus.txt"}}]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tasks[0].params" in err and str(tmp_path / "no/such/corpus.txt") in err
    assert not (tmp_path / "run").exists()


def test_unwritable_output_refused(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    path = sweep_with(tmp_path, [{"name": "sgd", "grid": {"lr": [0.1]}}], output=str(blocker / "run"))
    assert main(["run", str(path), "--quiet"]) == 2
    assert "output directory is not writable" in capsys.readouterr().err


def test_foreign_directory_untouched(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    path = sweep_with(tmp_path, [{"name": "sgd", "grid": {"lr": [0.1]}}])
    assert main(["run", str(path), "--quiet"]) == 2
    assert "not an optbasin run directory" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_bad_input_leaves_existing_results_intact(tmp_path, capsys):
    path = sweep_with(tmp_path, [{"name": "sgd", "grid": {"lr": [0.1]}}])
    assert main(["run", str(path), "--quiet"]) == 0
    snapshot = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    doc = yaml.safe_load(path.read_text())
    doc["optimizers"][0]["grid"]["lr"] = [-0.1]
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path), "--quiet"]) == 2
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == snapshot


def two_trial_sweep(tmp_path) -> Path:
    return sweep_with(
        tmp_path, [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}, {"name": "adamw", "grid": {"lr": [0.01]}}]
    )


def test_a_row_that_cannot_be_written_fails_that_trial_only(tmp_path, capsys, monkeypatch):
    real = ResultsStore.record
    calls = []

    def record(self, trial, steps):
        calls.append(trial["trial_id"])
        if len(calls) == 1:  # the first trial's row cannot be written
            raise OverflowError("Python int too large to convert to C long")
        return real(self, trial, steps)

    monkeypatch.setattr(ResultsStore, "record", record)
    assert main(["run", str(two_trial_sweep(tmp_path)), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "its results cannot be written: OverflowError" in err
    trials = ResultsStore(tmp_path / "run").trials()
    assert trials.status.value_counts().to_dict() == {"completed": 2, "failed": 1}
    assert trials.set_index("trial_id").loc[calls[0], "error"].startswith("its results cannot be written")


def test_disk_full_stops_with_a_clear_error_and_resume_works_in_the_same_space(tmp_path, capsys, monkeypatch):
    from tests.test_store import full_disk

    path = two_trial_sweep(tmp_path)
    seen = []
    full_disk(monkeypatch, when=lambda p: p.parent.name == "trials.parquet" and (seen.append(p) or len(seen) > 1))
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "disk full writing " in err and ": free space and resume" in err and "Traceback" not in err
    run = tmp_path / "run"
    assert not list(run.rglob("*.tmp")) and len(ResultsStore(run).trials()) == 1
    monkeypatch.undo()
    full_disk(monkeypatch, when=lambda p: "merged" in p.name)  # still no room for a merged copy
    assert main(["resume", str(run), "--quiet"]) == 0
    assert len(ResultsStore(run).trials()) == 3 and not list(run.rglob("*.tmp"))


def test_moved_steps_part_and_foreign_part_are_reported(tmp_path, capsys):
    path = two_trial_sweep(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    run = tmp_path / "run"
    steps = pd.read_parquet(run / "steps.parquet")
    steps[steps.trial_id != steps.trial_id.iloc[0]].to_parquet(run / "steps.parquet" / "part-0-merged-1.parquet")
    for p in (run / "steps.parquet").glob("part-*"):
        if p.name != "part-0-merged-1.parquet":
            p.rename(tmp_path / p.name)  # the advised "move the corrupt part aside"
    capsys.readouterr()
    assert main(["analyze", str(run)]) == 0
    assert "note: 1 finished trial(s) have no step rows" in capsys.readouterr().err

    pd.DataFrame({"x": [1]}).to_parquet(run / "trials.parquet" / "part-foreign.parquet")
    for command in (["status", str(run)], ["analyze", str(run)], ["resume", str(run), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "part-foreign.parquet: not an optbasin trials.parquet part" in err and "Traceback" not in err


def test_a_run_that_stopped_before_its_metadata_can_start_again(tmp_path):
    """Its lock file and empty datasets are ours; anything else makes the directory foreign."""
    from optbasin.errors import StoreError
    from optbasin.sweeps import sweep

    p = sweep.plan(sweep_with(tmp_path, [{"name": "sgd", "grid": {"lr": [0.1]}}]))
    for sub in ("trials.parquet", "steps.parquet"):
        (p.store.root / sub).mkdir(parents=True)
    (p.store.root / ".lock").write_text("")
    sweep.check_directory(p)  # no error
    (p.store.root / "steps.parquet" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="is not an optbasin run directory"):
        sweep.check_directory(p)
