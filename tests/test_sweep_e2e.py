"""One end-to-end sweep through Ray Tune: Parquet contents, metadata, skip on rerun, resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from optbasin.cli import main
from optbasin.sweeps.store import ResultsStore


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    import yaml

    from tests.conftest import base_sweep

    root = tmp_path_factory.mktemp("e2e")
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(base_sweep(root / "run")))
    code = main(["run", str(path), "--quiet"])
    return code, root, path


def test_sweep_results_in_parquet(finished_run, capsys):
    code, root, _ = finished_run
    assert code == 0
    trials = pd.read_parquet(root / "run" / "trials.parquet")  # plain pandas reads the dataset
    steps = pd.read_parquet(root / "run" / "steps.parquet")
    assert len(trials) == 12 and trials.trial_id.is_unique
    assert set(trials.optimizer) == {"sgd", "adamw"} and set(trials.seed) == {0, 1}
    diverged = trials[trials.status == "diverged"]
    assert set(diverged["hp.lr"]) == {100.0} and len(diverged) == 2  # sgd at lr=100, both seeds
    done = trials[trials.status == "completed"]
    assert len(done) == 10 and (done.final_val_loss < done.init_loss).all()
    assert (done.steps_done == 40).all() and (done.wall_time > 0).all()
    assert {"hp.lr", "hp.momentum", "hp.beta1", "error", "task", "seed"} <= set(trials.columns)
    per_trial = steps.groupby("trial_id").step.max()
    assert (per_trial[done.trial_id] == 40).all()
    assert set(steps.trial_id) == set(trials.trial_id)


def test_metadata_written(finished_run):
    _, root, path = finished_run
    meta = json.loads((root / "run" / "meta.json").read_text())
    assert meta["sweep"] == "tiny" and meta["counts"] == {"completed": 10, "diverged": 2}
    assert meta["finished_at"] and meta["versions"]["torch"] and meta["trials_planned"] == 12
    assert (root / "run" / "sweep.yaml").read_text() == path.read_text()


def test_rerun_skips_complete_trials(finished_run, capsys):
    _, root, path = finished_run
    before = ResultsStore(root / "run").trials()
    assert main(["run", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "12 trials already complete" in out
    after = ResultsStore(root / "run").trials()
    assert list(after.sort_values("trial_id").attempt) == list(before.sort_values("trial_id").attempt)


def test_resume_runs_only_missing_trials(finished_run, tmp_path, capsys):
    """Drop two trials from a copy of the run, then `optbasin resume` runs exactly those."""
    import shutil

    _, root, _ = finished_run
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    store = ResultsStore(run)
    trials = store.trials()
    kept = trials.iloc[2:]
    for part in (run / "trials.parquet").glob("part-*"):
        part.unlink()
    kept.to_parquet(run / "trials.parquet" / "part-kept.parquet")
    assert main(["resume", str(run), "--quiet"]) == 0
    after = store.trials()
    assert sorted(after.trial_id) == sorted(trials.trial_id)
    rerun = after[~after.attempt.isin(kept.attempt)]
    assert sorted(rerun.trial_id) == sorted(trials.trial_id.iloc[:2])


def test_refuses_directory_of_another_sweep(finished_run, write_sweep, capsys):
    _, root, _ = finished_run
    path = write_sweep(name="other.yaml", output=str(root / "run"))
    doc_name = "another"
    path.write_text(path.read_text().replace("name: tiny", f"name: {doc_name}"))
    assert main(["run", str(path), "--quiet"]) == 2
    assert "holds results of sweep 'tiny', not 'another'" in capsys.readouterr().err
