"""One trial: one model and its optimizer (any torch.optim.Optimizer a catalog entry names),
trained by the loop (loop.py).

Independent of Ray: ``run_trial(spec, emit)`` calls ``emit(rows)`` with the step rows logged since
the last call (every eval) and returns the trial's summary. The Ray Tune wrapper lives in
sweeps/runner.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from optbasin.catalog import optimizer_class
from optbasin.optimizers import build_from_class, diagnostics, needs_loss
from optbasin.tasks.base import Task
from optbasin.training.loop import evaluated, run_loop
from optbasin.training.trial_spec import TrialSpec


def build_optimizer(spec: TrialSpec, model: nn.Module, task: Task) -> torch.optim.Optimizer:
    cls = optimizer_class(spec.optimizer_class, spec.import_paths)
    return build_from_class(
        cls, model, dict(spec.hparams), task.head, spec.split_matrix, spec.split_other, spec.optimizer_tuples
    )


class SingleModel:
    """The loop's engine for one model: gradients by backward, the optimizer's own ``step``."""

    size = 1
    extra: dict[str, Any] = {}

    def __init__(self, spec: TrialSpec, model: nn.Module, task: Task, device: torch.device):
        self.model, self.task, self.device = model, task, device
        self.optimizer = build_optimizer(spec, model, task)
        self.base = [g["lr"] for g in self.optimizer.param_groups]
        self.pass_loss = needs_loss(self.optimizer)

    def set_lr(self, mult: float) -> None:
        for g, lr in zip(self.optimizer.param_groups, self.base):
            g["lr"] = lr * mult

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def backward(self, batch: Any, parts: int) -> Tensor:
        micro = self.task.loss(self.model, batch) / parts
        micro.backward()
        return micro.detach()

    def clip(self, max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)

    def update(self, step: int, loss: Tensor) -> dict[str, Any]:
        if self.pass_loss:
            self.optimizer.step(loss=loss)
        else:
            self.optimizer.step()
        return diagnostics(self.optimizer)

    def base_lrs(self) -> list[float]:
        return self.base[:1]  # the row's lr: the first parameter group's

    def evaluate(self, j: int) -> float:
        return evaluated(self.task, self.model, self.device)

    def keep(self, js: list[int]) -> None:
        """Never called: the loop ends when its one member ends."""


def run_trial(spec: TrialSpec, emit: Callable[[list[dict]], None] | None = None) -> dict[str, Any]:
    """Train one trial; return its summary (status, losses, steps done, times)."""
    summary: dict[str, Any] = {}

    def done(_: int, rows: list[dict], result: dict[str, Any]) -> None:
        if rows and emit is not None:
            emit(rows)
        summary.update(result)

    run_loop(spec, partial(SingleModel, spec), done, None if emit is None else lambda _, rows: emit(rows))
    return summary
