"""One trial: build the task and optimizer from a TrialSpec, train for the budget, log, evaluate.

Independent of Ray: ``run_trial(spec, emit)`` calls ``emit(rows)`` with the step rows logged since
the last call (every eval) and returns the trial's summary. The Ray Tune wrapper lives in runner.py.
Divergence (any loss the trial reports, train or validation, NaN/inf or above threshold x the
initial loss; ``exploded``) ends the trial early with status "diverged": a result, not an error.
Any exception propagates (the runner records it).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Callable

import numpy as np
import torch

from optbasin.catalog import optimizer_class, task_factory, values_checked
from optbasin.optimizers import build_from_class, diagnostics, needs_loss
from optbasin.sweeps.schedule import multiplier
from optbasin.sweeps.spec import TrialSpec
from optbasin.status import TrialStatus
from optbasin.tasks.base import Task

COMPLETED, DIVERGED, FAILED = (s.value for s in TrialStatus)  # stored as plain strings


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_task(spec: TrialSpec) -> Task:
    with values_checked():  # checked against the entry in use when the sweep was loaded
        task = task_factory(spec.task_factory, spec.import_paths)(**spec.task_params)
    if not isinstance(task, Task):
        raise TypeError(f"task factory {spec.task_factory!r} returned {type(task).__name__}, not an optbasin Task")
    return task


def build_optimizer(spec: TrialSpec, model: torch.nn.Module, task: Task) -> torch.optim.Optimizer:
    cls = optimizer_class(spec.optimizer_class, spec.import_paths)
    return build_from_class(cls, model, dict(spec.hparams), task.head, spec.split_matrix, spec.split_other,
                            spec.optimizer_tuples)


def pick_device(spec: TrialSpec) -> torch.device:
    return torch.device("cuda") if spec.gpus > 0 and torch.cuda.is_available() else torch.device("cpu")


def exploded(loss: float, limit: float) -> bool:
    """The divergence rule, for every loss a trial reports (train and validation): NaN/inf, or above
    ``limit`` = threshold x the initial loss."""
    return not math.isfinite(loss) or loss > limit


def run_trial(spec: TrialSpec, emit: Callable[[list[dict]], None] | None = None) -> dict[str, Any]:
    """Train one trial; return its summary (status, losses, steps done, times)."""
    t0, c0 = time.perf_counter(), time.process_time()
    torch.set_num_threads(max(1, int(spec.cpus)))
    seed_everything(spec.seed)
    device = pick_device(spec)
    task = build_task(spec)
    model = task.build_model(spec.seed).to(device)
    optimizer = build_optimizer(spec, model, task)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    pass_loss = needs_loss(optimizer)
    batches = task.train_batches(spec.seed, device)

    model.eval()
    init_loss = float(task.evaluate(model, device))
    model.train()
    limit = spec.divergence_threshold * init_loss if math.isfinite(init_loss) else math.inf

    rows: list[dict] = []
    window_loss, window_n, window_diag = 0.0, 0, {}
    status, step, val_loss, best_val = COMPLETED, 0, math.nan, math.inf
    last_train = math.nan
    for step in range(1, spec.steps + 1):
        mult = multiplier(spec.schedule, step - 1, spec.steps)
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * mult
        optimizer.zero_grad(set_to_none=True)
        loss = 0.0
        for _ in range(spec.accumulate):  # the step's loss: mean over its micro-batches
            micro = task.loss(model, next(batches)) / spec.accumulate
            micro.backward()
            loss = loss + micro.detach()
        if spec.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        if pass_loss:
            optimizer.step(loss=loss)
        else:
            optimizer.step()
        window_loss = window_loss + loss
        window_n += 1
        for k, v in diagnostics(optimizer).items():
            window_diag[k] = window_diag.get(k, 0.0) + v

        is_eval = step % spec.eval_every == 0 or step == spec.steps
        if step % spec.log_every == 0 or is_eval:
            last_train = float(window_loss) / window_n
            diverged = exploded(last_train, limit)
            val = math.nan
            if is_eval and not diverged:
                model.eval()
                val = float(task.evaluate(model, device))
                model.train()
                val_loss = val
                best_val = min(best_val, val) if math.isfinite(val) else best_val
                diverged = exploded(val, limit)
            row = {"step": step, "train_loss": last_train, "val_loss": val, "lr": base_lrs[0] * mult}
            row.update({f"diag.{k}": float(v) / window_n for k, v in window_diag.items()})
            rows.append(row)
            window_loss, window_n, window_diag = 0.0, 0, {}
            if diverged:
                status = DIVERGED
                break
            if is_eval and emit is not None:
                emit(rows)
                rows = []
    if rows and emit is not None:
        emit(rows)
    return {
        "status": status,
        "init_loss": init_loss,
        **task.reference_losses(),
        "final_train_loss": last_train if status == COMPLETED else math.nan,
        "final_val_loss": val_loss if status == COMPLETED else math.nan,
        "best_val_loss": best_val if math.isfinite(best_val) else math.nan,
        "steps_done": step,
        "wall_time": time.perf_counter() - t0,
        "cpu_time": time.process_time() - c0,
        "device": str(device),
    }
