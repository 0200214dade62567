"""torch's own SGD and AdamW, with scalar hyperparameters so that a YAML grid can sweep them
(hyperparameters: optbasin/optimizers/catalog/sgd.yaml, adamw.yaml).

The single-model classes are torch's; ``population_step`` runs torch's rule as written in
functional.py on a population (shell.py; tests/test_population.py checks it against these classes).
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbasin.optimizers.declared import declared, hparams_for
from optbasin.optimizers.functional import adamw_state, adamw_update, sgd_update
from optbasin.optimizers.shell import population_step


def sgd_rule(params, grads, states, gstate, hp, kinds, t, loss=None) -> dict:
    for p, g, st in zip(params, grads, states):
        sgd_update(p, g, st, hp["lr"], hp["momentum"], hp["weight_decay"], hp["nesterov"])
    return {}


def adamw_rule(params, grads, states, gstate, hp, kinds, t, loss=None) -> dict:
    for p, g, st in zip(params, grads, states):
        adamw_update(p, g, st, t, hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"])
    return {}


def sgd_state(p: Tensor, kind: str) -> dict[str, Tensor]:
    return {"momentum_buffer": torch.zeros_like(p)}


def adamw_param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
    return adamw_state(p)


def no_global_state(p: Tensor) -> dict:
    return {}


@declared("sgd")
class SGD(torch.optim.SGD):
    """torch.optim.SGD (heavy-ball momentum, coupled L2 weight decay)."""

    rule = staticmethod(sgd_rule)
    param_state = staticmethod(sgd_state)
    global_state_of = staticmethod(no_global_state)
    population_step = classmethod(population_step)

    def __init__(self, params, **hparams):
        super().__init__(params, **hparams_for(type(self), hparams))


@declared("adamw")
class AdamW(torch.optim.AdamW):
    """torch.optim.AdamW with betas given as beta1 / beta2."""

    rule = staticmethod(adamw_rule)
    param_state = staticmethod(adamw_param_state)
    global_state_of = staticmethod(no_global_state)
    population_step = classmethod(population_step)

    def __init__(self, params, **hparams):
        hp = hparams_for(type(self), hparams)
        super().__init__(
            params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=hp["weight_decay"]
        )
