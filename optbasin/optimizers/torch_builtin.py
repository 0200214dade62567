"""torch's own SGD and AdamW, with scalar hyperparameters so that a YAML grid can sweep them."""

from __future__ import annotations

import torch


class SGD(torch.optim.SGD):
    """torch.optim.SGD (heavy-ball momentum, coupled L2 weight decay)."""

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


class AdamW(torch.optim.AdamW):
    """torch.optim.AdamW with betas given as beta1 / beta2."""

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
