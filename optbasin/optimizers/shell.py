"""The torch.optim shell around an update rule, and the same rule on a population.

An optbasin optimizer is one function, its rule (paper notation, one model):

    rule(params, grads, states, gstate, hp, kinds, t, loss) -> diagnostics

over lists of parameters and gradients, each parameter's state dict, the optimizer-wide state
``gstate``, the hyperparameters ``hp``, each parameter's kind (split.py: "matrix" or "other"), the
step t (from 1) and the batch loss (None unless the class ``needs_loss``). It updates parameters
and state in place. ``param_state(p, kind)`` and ``global_state_of(p)`` make the zero state.

``RuleOptimizer`` is the torch.optim.Optimizer that holds the state and calls the rule, once per
param group, or once over all of them (``whole_model``: the rule's inner products span the model;
then every group has the first group's lr and weight decay). ``population_step`` runs the same rule
on K stacked models with torch.func.vmap: each tensor, each state tensor and each (K,)
hyperparameter carries a leading member dimension, which vmap maps over; the other
hyperparameters are shared. The rule is not written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from optbasin.optimizers.declared import hparams_for
from optbasin.optimizers.split import OTHER

GLOBAL = "global"  # key of the optimizer-wide entry in self.state (kept by state_dict: not a tensor key)


def stacked_state(make: Callable[[Tensor], dict], p: Tensor) -> dict[str, Tensor]:
    """``make(member's p)`` for every member of a stacked ``p``: tensors with a member dimension."""
    return {k: v.contiguous() for k, v in torch.func.vmap(make)(p).items()}  # contiguous: writable


def population_step(
    cls: type,
    state: dict,
    params: list[Tensor],
    grads: list[Tensor],
    kinds: list[str],
    hp: dict,
    step: int,
    loss: Tensor | None = None,
) -> dict[str, Tensor]:
    """``cls.rule`` on a population: params, grads and the (K,) tensors of ``hp`` carry a leading
    member dimension; ``state`` (empty at the first step) is kept here, per parameter index and
    under "global". Returns the diagnostics, one value per member."""
    if not state:
        for i, (p, kind) in enumerate(zip(params, kinds)):
            state[i] = stacked_state(lambda x, kind=kind: cls.param_state(x, kind), p)
        state[GLOBAL] = stacked_state(cls.global_state_of, params[0])
    varying = {k: v.to(params[0].dtype) for k, v in hp.items() if isinstance(v, Tensor)}
    shared = {k: v for k, v in hp.items() if k not in varying}
    loss = params[0].new_zeros(len(params[0])) if loss is None else loss

    def member(varying, params, grads, states, gstate, loss):
        return cls.rule(params, grads, states, gstate, {**shared, **varying}, kinds, step, loss)

    states = [state[i] for i in range(len(params))]
    return torch.func.vmap(member)(varying, params, grads, states, state[GLOBAL], loss)


class RuleOptimizer(torch.optim.Optimizer):
    """Holds the state and calls ``rule`` (see the module docstring); hyperparameters from the
    class's catalog entry (declared.py)."""

    needs_loss = False
    whole_model = False
    population_step = classmethod(population_step)

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        return {}

    @staticmethod
    def global_state_of(p: Tensor) -> dict[str, Tensor]:
        return {}

    def __init__(self, params: Any, **hparams: Any) -> None:
        super().__init__(self.groups_of(params), hparams_for(type(self), hparams))
        self._diag: dict[str, Any] = {}

    def groups_of(self, params: Any) -> Any:
        return params

    def diagnostics(self) -> dict[str, float | Tensor]:
        """Last step's internals (0-d tensors stay on the device: the trial converts them only
        when it logs, so stepping adds no device sync)."""
        return dict(self._diag)

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.needs_loss and loss is None:
            raise ValueError(f"{type(self).__name__} needs the batch loss: step(loss=...) or step(closure)")
        gs = self.state[GLOBAL]
        gs["step"] = t = gs.get("step", 0) + 1
        self._diag = {}
        for groups in [self.param_groups] if self.whole_model else [[g] for g in self.param_groups]:
            items = [(p, g.get("kind", OTHER)) for g in groups for p in g["params"] if p.grad is not None]
            if not items:
                continue
            params, kinds = [p for p, _ in items], [k for _, k in items]
            states = [self._state(p, k) for p, k in items]
            if "rule" not in gs:
                gs["rule"] = self.global_state_of(params[0])
            self._diag.update(
                self.rule(params, [p.grad for p in params], states, gs["rule"], self._hp(groups), kinds, t, loss)
            )
        return loss

    def _state(self, p: Tensor, kind: str) -> dict:
        if not self.state[p]:
            self.state[p].update(self.param_state(p, kind))
        return self.state[p]

    def _hp(self, groups: list[dict]) -> dict:
        """The hyperparameters of one rule call: the first group's (all groups must share lr and weight decay)."""
        for g in groups[1:]:
            for key in ("lr", "weight_decay"):
                if g[key] != groups[0][key]:
                    raise ValueError(
                        f"{type(self).__name__} takes one {key} for all parameter groups, "
                        f"got {groups[0][key]!r} and {g[key]!r}"
                    )
        return groups[0]
