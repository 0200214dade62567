"""Crash isolation and the per-trial time limit, with real Ray workers: a `kill -9` of the worker
running one trial, and a trial that hangs under `timeout_s: 5`. Only that trial is failed; its
batch-mates (never started when the worker died) run again on a fresh worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optbasin.cli import main
from optbasin.sweeps.batching import batch_size
from tests.conftest import base_sweep

SLEEPY = '''
import os, time, torch

class Sleepy(torch.optim.SGD):
    """The first one built (in any process) writes its pid to ``marker`` and sleeps ``nap`` s."""
    def __init__(self, params, lr=0.1, marker="", nap=0.0):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            fd = None
        if fd is not None:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            time.sleep(nap)
        super().__init__(params, lr=lr)
'''
N_TRIALS = 16


def sleepy_sweep(tmp_path: Path, nap: float, **extra) -> tuple[Path, Path, Path]:
    """16 sgd-like trials on one concurrent slot (each trial takes every CPU): batches of 4."""
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "sleepy_mod.py").write_text(SLEEPY)
    marker = tmp_path / "victim.pid"
    (cat / "sleepy.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "optimizer",
                "name": "sleepy",
                "class": "sleepy_mod:Sleepy",
                "hyperparameters": {
                    "lr": {"default": 0.01, "gt": 0},
                    "marker": {"type": "str", "default": str(marker)},
                    "nap": {"default": nap, "ge": 0},
                },
            }
        )
    )
    doc = base_sweep(tmp_path / "run")
    doc["seeds"] = 1
    doc["resources"] = {"cpus": os.cpu_count() or 1}
    doc["optimizers"] = [{"name": "sleepy", "grid": {"lr": {"log_range": [1e-3, 1e-1], "points": N_TRIALS}}}]
    doc.update(extra)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path, cat, marker


def test_batches_hold_several_trials():
    """The precondition of the tests below: one slot, 16 trials -> batches of 4."""
    assert batch_size(N_TRIALS, 1) == 4


def wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and not (path.exists() and path.read_text()):
        time.sleep(0.1)
    assert path.exists(), f"{path} never appeared"


def run_killing_the_marked_worker(path: Path, cat: Path, marker: Path) -> tuple[int, pd.DataFrame]:
    """Run the sweep while a thread waits for ``marker`` (a worker's pid) and kill -9s that worker."""
    import threading

    def killer() -> None:
        wait_for(marker)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    code = main(["run", str(path), "--catalog", str(cat), "--quiet"])
    thread.join(5)
    assert marker.exists()
    return code, pd.read_parquet(path.parent / "run" / "trials.parquet")


@pytest.mark.parametrize("retries", [0, 1])
def test_kill_9_of_one_worker_fails_only_its_trial(tmp_path, capsys, retries):
    """retries 0: that trial alone is failed; retries 1: it runs again (and completes: only the
    first construction sleeps), its batch-mates never counted a failure."""
    path, cat, marker = sleepy_sweep(tmp_path, nap=120.0, retries=retries)
    code, trials = run_killing_the_marked_worker(path, cat, marker)  # the worker of the first trial, mid-batch
    counts = trials.status.value_counts().to_dict()
    if retries:
        assert code == 0 and counts == {"completed": N_TRIALS}, (counts, capsys.readouterr().err)
        return
    assert code == 1 and counts == {"completed": N_TRIALS - 1, "failed": 1}, (counts, capsys.readouterr().err)
    failed = trials[trials.status == "failed"].iloc[0]
    assert failed.error == "trial process died without reporting an error (killed, or out of memory?)"


def test_hanging_trial_times_out_and_its_batch_runs_on(tmp_path):
    """A trial that hangs for an hour is failed at its timeout; the others finish well within it
    (30 s: a loaded machine must not time out a trial of a fraction of a second)."""
    path, cat, marker = sleepy_sweep(tmp_path, nap=3600.0)
    doc = yaml.safe_load(path.read_text())
    doc["budget"]["timeout_s"] = 30
    path.write_text(yaml.safe_dump(doc))
    code = main(["run", str(path), "--catalog", str(cat), "--quiet"])
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert code == 1 and trials.status.value_counts().to_dict() == {"completed": N_TRIALS - 1, "failed": 1}
    assert list(trials[trials.status == "failed"].error) == ["timeout after 30 s"]


def test_timeout_is_sweep_wide_with_a_per_task_override_and_not_part_of_identity(tmp_path, write_sweep):
    from optbasin.sweeps.spec import expand, load_sweep

    doc = base_sweep(tmp_path / "run")
    doc["tasks"] = [doc["tasks"][0], {**doc["tasks"][0], "label": "q-short", "timeout_s": 3}]
    plain = expand(*load_sweep(write_sweep(doc)))
    doc["budget"]["timeout_s"] = 7
    limited = expand(*load_sweep(write_sweep(doc)))
    assert {t.task: t.timeout_s for t in limited} == {"quadratic": 7, "q-short": 3}
    assert [t.trial_id for t in limited] == [t.trial_id for t in plain]  # a limit does not change results


SLEEPY_TASK = '''
import os, time
from sine_task import SineTask

class SleepyTask(SineTask):
    """The first data stream opened (in any process) writes its pid to ``marker`` and sleeps."""
    def __init__(self, marker="", nap=0.0, **kw):
        super().__init__(**kw)
        self.marker, self.nap = marker, nap

    def train_batches(self, seed, device):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            fd = None
        if fd is not None:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            time.sleep(self.nap)
        return super().train_batches(seed, device)

def make_task(**params):
    return SleepyTask(**params)
'''


def test_kill_9_of_a_population_reruns_its_members_alone(tmp_path):
    """A population's members train together, so a dead worker blames none of them: each
    unfinished member runs again alone (and completes: only the first data stream sleeps), and
    every member is recorded once."""
    import shutil

    cat = tmp_path / "cat"
    cat.mkdir()
    shutil.copy(Path(__file__).parents[1] / "examples" / "user_task" / "sine_task.py", cat)
    (cat / "sleepy_task.py").write_text(SLEEPY_TASK)
    marker = tmp_path / "victim.pid"
    (cat / "sleepy.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "task",
                "name": "sleepy-sine",
                "factory": "sleepy_task:make_task",
                "steps": 30,
                "params": {
                    "marker": {"type": "str", "default": str(marker)},
                    "nap": {"default": 120.0, "ge": 0},
                    "hidden": {"type": "int", "default": 8, "ge": 1},
                },
            }
        )
    )
    doc = base_sweep(tmp_path / "run")
    doc.update(
        seeds=1,
        population=4,
        resources={"cpus": os.cpu_count() or 1},
        tasks=["sleepy-sine"],
        optimizers=[{"name": "adamw", "grid": {"lr": [1e-3, 3e-3, 1e-2, 3e-2]}}],
    )
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, trials = run_killing_the_marked_worker(path, cat, marker)
    assert code == 0 and trials.status.value_counts().to_dict() == {"completed": 4}
    assert trials.trial_id.is_unique
    assert "population_size" not in trials or trials.population_size.isna().all()  # each reran alone
