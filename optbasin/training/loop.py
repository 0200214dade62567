"""The training loop, written once for every engine: schedule, accumulation, evaluation,
divergence, rows and summary.

An engine holds the members being trained: one model and its optimizer (single.py), or K models
that differ only in hyperparameters, stacked (population.py). The loop asks it for the pieces of
a step and records each member as its own trial: rows of the train loss over the log window, the
val loss at evals, the lr and the optimizer's diagnostics; and a summary when the member ends.

Divergence (any loss the trial reports, train or validation, NaN/inf or above threshold x the
initial loss; ``exploded``) ends a member early with status "diverged": a result, not an error.
A diverged member leaves the engine (no further updates, no more rows) while the others continue.
Any exception propagates (the runner records it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from optbasin.status import TrialStatus
from optbasin.tasks.base import Task
from optbasin.training.build import build_task, pick_device, seed_everything
from optbasin.training.schedule import multiplier
from optbasin.training.trial_spec import TrialSpec

COMPLETED, DIVERGED, FAILED = (s.value for s in TrialStatus)  # stored as plain strings

Emit = Callable[[int, list[dict]], None]  # (member, its rows since the last call)
Done = Callable[[int, list[dict], dict[str, Any]], None]  # (member, its rows not yet emitted, summary)


class Engine(Protocol):
    """The members the loop trains. ``j`` is a position among the members still training."""

    size: int  # members at the start
    extra: dict[str, Any]  # summary keys of this engine (a population's size)

    def set_lr(self, mult: float) -> None:
        """Every member's lr: its base lr x ``mult``."""

    def zero_grad(self) -> None: ...

    def backward(self, batch: Any, parts: int) -> Tensor:
        """Add the gradient of (loss on ``batch``) / ``parts``; return that loss per member
        (0-d for one member, (K,) for K), detached."""

    def clip(self, max_norm: float) -> None:
        """Clip each member's gradient to total 2-norm ``max_norm``."""

    def update(self, step: int, loss: Tensor) -> dict[str, Any]:
        """The optimizer step; return its diagnostics (numbers, 0-d or (K,) tensors)."""

    def base_lrs(self) -> list[float]: ...

    def evaluate(self, j: int) -> float: ...

    def keep(self, js: list[int]) -> None:
        """Drop every member but those at positions ``js`` (called only while some remain)."""


def exploded(loss: float, limit: float) -> bool:
    """The divergence rule, for every loss a trial reports (train and validation): NaN/inf, or above
    ``limit`` = threshold x the initial loss."""
    return not math.isfinite(loss) or loss > limit


def evaluated(task: Task, model: nn.Module, device: torch.device) -> float:
    """The task's held-out loss of ``model``, in eval mode (train mode restored)."""
    model.eval()
    value = float(task.evaluate(model, device))
    model.train()
    return value


def window_mean(total: Any, n: int, k: int) -> list[float]:
    """The mean over a log window of ``n`` steps, one float per member, from the window's sum: a (K,)
    tensor (one value per member) or a number or 0-d tensor (one value for all ``k`` members)."""
    if isinstance(total, Tensor) and total.ndim:
        return (total / n).tolist()  # one device sync for every member
    return [float(total) / n] * k


def run_loop(
    spec: TrialSpec,
    build_engine: Callable[[nn.Module, Task, torch.device], Engine],
    done: Done,
    emit: Emit | None = None,
) -> None:
    """Train the members ``build_engine(model, task, device)`` makes for ``spec``'s task, seed and
    budget. ``emit(i, rows)`` (if given) gets member i's new rows at each eval; ``done(i, rows,
    summary)`` is called as soon as member i ends (diverged members first, the rest after the last
    step) with its rows not yet emitted. A member's ``wall_time`` and ``cpu_time`` are its share
    (1/K) of the engine's wall and CPU time when it ended."""
    t0, c0 = time.perf_counter(), time.process_time()
    torch.set_num_threads(max(1, int(spec.cpus)))
    seed_everything(spec.seed)
    device = pick_device(spec)
    task = build_task(spec)
    model = task.build_model(spec.seed).to(device)
    engine = build_engine(model, task, device)
    batches: Iterator = task.train_batches(spec.seed, device)
    init_loss = evaluated(task, model, device)
    limit = spec.divergence_threshold * init_loss if math.isfinite(init_loss) else math.inf

    k0 = engine.size
    members = list(range(k0))  # the member index of each engine position
    rows: list[list[dict]] = [[] for _ in range(k0)]
    last_train, val_loss, best_val = [math.nan] * k0, [math.nan] * k0, [math.inf] * k0

    def finish(i: int, status: str, step: int) -> None:
        done(
            i,
            rows[i],
            {
                "status": status,
                "init_loss": init_loss,
                **task.reference_losses(),
                "final_train_loss": last_train[i] if status == COMPLETED else math.nan,
                "final_val_loss": val_loss[i] if status == COMPLETED else math.nan,
                "best_val_loss": best_val[i] if math.isfinite(best_val[i]) else math.nan,
                "steps_done": step,
                "wall_time": (time.perf_counter() - t0) / k0,
                "cpu_time": (time.process_time() - c0) / k0,
                "device": str(device),
                **engine.extra,
            },
        )

    window_loss, window_n, window_diag = 0.0, 0, {}
    for step in range(1, spec.steps + 1):
        mult = multiplier(spec.schedule, step - 1, spec.steps)
        engine.set_lr(mult)
        engine.zero_grad()
        loss = 0.0
        for _ in range(spec.accumulate):  # the step's loss: mean over its micro-batches
            loss = loss + engine.backward(next(batches), spec.accumulate)
        if spec.grad_clip is not None:
            engine.clip(spec.grad_clip)
        diag = engine.update(step, loss)
        window_loss = window_loss + loss
        window_n += 1
        for key, v in diag.items():
            window_diag[key] = window_diag.get(key, 0.0) + v

        is_eval = step % spec.eval_every == 0 or step == spec.steps
        if not (step % spec.log_every == 0 or is_eval):
            continue
        train = window_mean(window_loss, window_n, len(members))
        diags = {key: window_mean(v, window_n, len(members)) for key, v in window_diag.items()}
        lrs = engine.base_lrs()
        window_loss, window_n, window_diag = 0.0, 0, {}
        keep = []
        for j, i in enumerate(members):
            last_train[i] = train[j]
            diverged = exploded(train[j], limit)
            val = math.nan
            if is_eval and not diverged:
                val = engine.evaluate(j)
                val_loss[i] = val
                best_val[i] = min(best_val[i], val) if math.isfinite(val) else best_val[i]
                diverged = exploded(val, limit)
            row = {"step": step, "train_loss": train[j], "val_loss": val, "lr": lrs[j] * mult}
            row.update({f"diag.{key}": v[j] for key, v in diags.items()})
            rows[i].append(row)
            if diverged:
                finish(i, DIVERGED, step)
                continue
            keep.append(j)
            if is_eval and emit is not None:
                emit(i, rows[i])
                rows[i] = []
        if not keep:
            return
        if len(keep) < len(members):
            engine.keep(keep)
            members = [members[j] for j in keep]
    for i in members:
        finish(i, COMPLETED, spec.steps)
