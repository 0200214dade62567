"""torch's own SGD and AdamW, with scalar hyperparameters so that a YAML grid can sweep them.

The single-model classes are torch's; ``population_step`` runs the same arithmetic on a
population (optimizers/functional.py; tests/test_population.py checks it against these classes).
"""

from __future__ import annotations

import torch

from optbasin.optimizers.functional import adamw_update, sgd_update


class SGD(torch.optim.SGD):
    """torch.optim.SGD (heavy-ball momentum, coupled L2 weight decay)."""

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)

    @staticmethod
    def population_step(state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        for i, (p, g) in enumerate(zip(params, grads)):
            sgd_update(p, g, state.setdefault(i, {}), hp["lr"], hp["momentum"], hp["weight_decay"], hp["nesterov"])
        return {}


class AdamW(torch.optim.AdamW):
    """torch.optim.AdamW with betas given as beta1 / beta2."""

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)

    @staticmethod
    def population_step(state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        for i, (p, g) in enumerate(zip(params, grads)):
            adamw_update(p, g, state.setdefault(i, {}), step, hp["lr"], hp["beta1"], hp["beta2"], hp["eps"],
                         hp["weight_decay"])
        return {}
