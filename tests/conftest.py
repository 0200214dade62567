"""Shared fixtures: small sweep files that run in seconds, and hand-built result rows."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


def base_sweep(output: Path) -> dict:
    """A valid sweep: sgd and adamw on a small quadratic, 3 lrs, 2 seeds (12 trials)."""
    return {
        "name": "tiny",
        "output": str(output),
        "seeds": 2,
        "tasks": [{"name": "quadratic", "steps": 40, "params": {"d_in": 16, "d_out": 8}}],
        "optimizers": [
            {"name": "sgd", "grid": {"lr": [0.01, 0.1, 100.0]}},
            {"name": "adamw", "grid": {"lr": {"log_range": [1e-3, 1e-1], "points": 3}}},
        ],
        "budget": {"eval_every": 20, "log_every": 10},
    }


@pytest.fixture
def write_sweep(tmp_path):
    """write_sweep(doc=None, name='sweep.yaml', **top_level_overrides) -> path of a sweep file."""

    def write(doc: dict | None = None, name: str = "sweep.yaml", **overrides) -> Path:
        doc = dict(doc if doc is not None else base_sweep(tmp_path / "run"))
        doc.update(overrides)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write


@pytest.fixture(autouse=True)
def one_thread():
    """Like a trial: one torch thread (the machine is small and shared; more threads only contend)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def adamw(lr):
    """An optimizer factory for the tasks' quick_train."""
    return lambda params: torch.optim.AdamW(params, lr=lr)


_trial_ids = itertools.count()


def result_row(opt, seed, lr, loss, status="completed", task="t", **hp):
    """A trials.parquet row built by hand (diverged/failed rows have no final validation loss)."""
    return {
        "trial_id": f"x{next(_trial_ids)}",
        "task": task,
        "optimizer": opt,
        "optimizer_name": opt,
        "seed": seed,
        "hp.lr": lr,
        **{f"hp.{k}": v for k, v in hp.items()},
        "status": status,
        "init_loss": 5.0,
        "final_train_loss": loss,
        "final_val_loss": loss if status == "completed" else math.nan,
        "steps_done": 100,
        "wall_time": 1.0,
    }


def wait_for_parts(run: Path, n: int, seconds: float = 180) -> None:
    """Wait until the run directory's trials dataset holds ``n`` committed parts."""
    parts = run / "trials.parquet"
    deadline = time.time() + seconds
    while time.time() < deadline and len(list(parts.glob("part-*"))) < n:
        time.sleep(0.1)
    assert len(list(parts.glob("part-*"))) >= n, "the sweep did not commit trials in time"


def kill_driver_after_parts(path: Path, run: Path, n: int) -> None:
    """Run the sweep file in a driver process and kill -9 it (and everything it started) once ``n``
    trials are committed."""
    driver = subprocess.Popen(
        [sys.executable, "-m", "optbasin.cli", "run", str(path), "--quiet"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_parts(run, n)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
