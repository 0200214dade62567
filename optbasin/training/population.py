"""The population engine: K trials that differ only in hyperparameters, trained as one stacked model.

Members share task, optimizer, seed and budget (grouping.py). The model's parameters are stacked
along a leading member dimension; one shared batch per step (members of one seed see the same
data, as separate trials do); per-member losses come from one vmapped ``functional_call``
of the task's loss, and their gradients from one backward of their sum (the members are
independent, so each member's parameters receive its own loss's gradient). The
optimizer's ``population_step`` (optimizers/shell.py) updates every member at once, with each
float hyperparameter as a (K,) tensor; the schedule multiplies each member's lr.

The loop (loop.py) records each member as its own trial: the same rows and summary that
``run_trial`` gives; a member that diverges leaves the population (its parameters and state are
dropped) while the others continue. Summaries add ``population_size``, the number of members the
population started with (a separate trial has none); ``wall_time`` and ``cpu_time`` are the member's
share (1/K) of the population's.

Random operations in the forward pass (dropout > 0) cannot be batched so that each member equals
its separate trial: vmap refuses them (randomness="error") and the runner falls back to running
those members one at a time, as for an optimizer without ``population_step``.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from optbasin.catalog import optimizer_class
from optbasin.optimizers.split import OTHER, param_roles
from optbasin.tasks.base import Task
from optbasin.training.grouping import is_member_value
from optbasin.training.loop import Done, evaluated, run_loop
from optbasin.training.trial_spec import TrialSpec


def supports_population(cls: type) -> bool:
    """An optimizer class declares population support with a ``population_step`` function."""
    return callable(getattr(cls, "population_step", None))


def class_hparams(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Every constructor hyperparameter of ``cls``: its signature's defaults, overridden by ``given``."""
    sig = inspect.signature(cls)
    defaults = {
        n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty and n != "params"
    }
    return {**defaults, **given}


def member_hparams(specs: list[TrialSpec], cls: type, dtype: torch.dtype, device: torch.device) -> dict[str, Any]:
    """One dict of hyperparameters: the floats that differ between members as (K,) tensors, the rest
    (equal for all members) as the numbers a single model's optimizer gets, so that its arithmetic
    is the single model's."""
    per = [class_hparams(cls, s.hparams) for s in specs]
    out: dict[str, Any] = {}
    for name, v in per[0].items():
        values = [h[name] for h in per]
        if all(x == v for x in values):
            out[name] = v
        elif is_member_value(v):
            out[name] = torch.tensor(values, dtype=dtype, device=device)
        else:
            raise ValueError(f"population members differ in non-float hyperparameter {name!r}: {values}")
    return out


class _LossOf(nn.Module):
    """The task's loss as a module (so that functional_call can swap the model's parameters)."""

    def __init__(self, task: Any, model: nn.Module):
        super().__init__()
        self.task, self.model = task, model

    def forward(self, batch: Any) -> Tensor:
        return self.task.loss(self.model, batch)


def select(obj: Any, keep: Tensor, k: int) -> Any:
    """Keep members ``keep`` of every tensor with a leading member dimension (size ``k``) in ``obj``."""
    if isinstance(obj, Tensor):
        return obj[keep] if obj.ndim >= 1 and obj.shape[0] == k else obj
    if isinstance(obj, dict):
        return {key: select(v, keep, k) for key, v in obj.items()}
    return obj


def _clip_(grads: list[Tensor], max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_ per member: g *= min(1, max_norm / (||g||_2 + 1e-6))."""
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads]).norm(dim=0)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.reshape(-1, *([1] * (g.ndim - 1))))


class Population:
    """The loop's engine for K members (one population, see grouping.py): parameters stacked along a
    leading member dimension, gradients of one vmapped loss, the optimizer's ``population_step``."""

    def __init__(self, specs: list[TrialSpec], model: nn.Module, task: Task, device: torch.device):
        spec = specs[0]
        self.size, self.extra = len(specs), {"population_size": len(specs)}
        self.model, self.task, self.device = model, task, device
        cls = optimizer_class(spec.optimizer_class, spec.import_paths)
        if not supports_population(cls):
            raise TypeError(f"{cls.__name__} declares no population_step: run its trials one at a time")
        self.cls = cls
        if getattr(cls, "hybrid", False):
            roles = param_roles(model, task.head, spec.split_matrix, spec.split_other)
            self.names, self.kinds = [r.name for r in roles], [r.role for r in roles]
        else:
            self.names = [n for n, p in model.named_parameters() if p.requires_grad]
            self.kinds = [OTHER] * len(self.names)
        self.own = dict(model.named_parameters())
        k0 = self.size
        self.params = [
            self.own[n].detach().unsqueeze(0).repeat(k0, *([1] * self.own[n].ndim)).requires_grad_() for n in self.names
        ]
        self.hp = member_hparams(specs, cls, torch.float64, device)  # cast to the parameters' dtype where used
        self.one_lr = None if isinstance(self.hp["lr"], Tensor) else float(self.hp["lr"])  # stays a number
        self.base_lr = (
            self.hp["lr"] if self.one_lr is None else torch.full((k0,), self.one_lr, dtype=torch.float64, device=device)
        )
        self.state: dict = {}
        self.grads: list[Tensor] | None = None
        wrapper = _LossOf(task, model)

        def member_loss(ps: list[Tensor], batch: Any) -> Tensor:
            return torch.func.functional_call(wrapper, {f"model.{n}": p for n, p in zip(self.names, ps)}, (batch,))

        self.member_losses = torch.func.vmap(member_loss, in_dims=(0, None), randomness="error")

    def set_lr(self, mult: float) -> None:
        self.hp["lr"] = self.base_lr * mult if self.one_lr is None else self.one_lr * mult

    def zero_grad(self) -> None:
        self.grads = None

    def backward(self, batch: Any, parts: int) -> Tensor:
        """Per-member gradients and losses: one backward of the members' summed losses (the members
        are independent, so d(sum)/d(member k's parameters) is member k's own gradient)."""
        losses = self.member_losses(self.params, batch)
        g = list(torch.autograd.grad(losses.sum(), self.params))
        g = [x / parts for x in g] if parts > 1 else g
        self.grads = g if self.grads is None else [a + b for a, b in zip(self.grads, g)]
        return losses.detach() / parts

    def clip(self, max_norm: float) -> None:
        _clip_(self.grads, max_norm)

    def update(self, step: int, loss: Tensor) -> dict[str, Any]:
        with torch.no_grad():
            return self.cls.population_step(self.state, self.params, self.grads, self.kinds, self.hp, step, loss=loss)

    def base_lrs(self) -> list[float]:
        return self.base_lr.tolist()  # one device sync for every member's row

    def evaluate(self, j: int) -> float:
        with torch.no_grad():
            for n, p in zip(self.names, self.params):
                self.own[n].copy_(p[j])
        return evaluated(self.task, self.model, self.device)

    def keep(self, js: list[int]) -> None:
        k = self.params[0].shape[0]
        idx = torch.tensor(js, dtype=torch.long, device=self.device)
        self.params = [p.detach()[idx].requires_grad_() for p in self.params]
        self.state = select(self.state, idx, k)
        self.hp = select(self.hp, idx, k)
        self.base_lr = self.base_lr[idx]


def run_population(specs: list[TrialSpec], done: Done) -> None:
    """Train ``specs`` (one population, see grouping.py) together; call ``done(i, rows, summary)``
    for member i (its index in ``specs``) as soon as it ends (diverged members first, the rest
    after the last step)."""
    run_loop(specs[0], partial(Population, specs), done)
