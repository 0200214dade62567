"""A user task from YAML: examples/user_task loads through the catalog and trains."""

from pathlib import Path

import torch

from optbasin.catalog import Catalog, task_factory
from optbasin.optimizers.split import MATRIX, OTHER, param_roles
from optbasin.tasks.base import Task
from optbasin.tasks.common import quick_train

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "user_task"


def test_user_task_loads_and_learns():
    cat = Catalog.load([EXAMPLE])
    d = cat.task("sine")
    assert d.steps == 400 and d.defaults() == {"hidden": 64, "freq": 3.0, "noise": 0.1, "batch_size": 32}
    assert "quadratic" in cat.tasks  # built-ins are still there
    task = task_factory(d.factory, cat.dirs)(**{**d.defaults(), "freq": 2.0})
    assert isinstance(task, Task) and task.freq == 2.0
    first, last, _ = quick_train(task, lambda p: torch.optim.AdamW(p, lr=1e-2), steps=150)
    assert last < 0.5 * first
    roles = {r.name: r.role for r in param_roles(task.build_model(0), task.head)}
    assert roles["0.weight"] == MATRIX and roles["2.weight"] == MATRIX and roles["4.weight"] == OTHER


def test_example_sweep_runs_a_trial_of_the_user_task():
    from optbasin.sweeps.spec import expand, load_sweep
    from optbasin.training.single import run_trial

    spec, catalog = load_sweep(EXAMPLE / "sweep.yaml")
    trials = expand(spec, catalog)
    assert len(trials) == 8 and trials[0].task_factory == "sine_task:make_task"
    assert trials[0].task_params["freq"] == 2.0 and trials[0].steps == 400
    trial = next(t for t in trials if t.hparams["lr"] == 0.01).model_copy(update={"steps": 60, "eval_every": 30})
    summary = run_trial(trial)
    assert summary["status"] == "completed" and summary["final_val_loss"] < summary["init_loss"]
