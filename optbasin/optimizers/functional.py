"""Optimizer updates as functions over tensors, written once for one model and for a population.

A population (optbasin/training/population.py) stacks K models that differ only in hyperparameters: each
parameter, gradient and state tensor then carries a leading member dimension of size K, and each
numeric hyperparameter may be a (K,) tensor (one value per member). ``per_member(h, like)`` turns
such a (K,) tensor into a shape that broadcasts against ``like``; a Python number passes through,
so the same line serves the single-model optimizer classes (numbers, no member dimension) and the
population driver (tensors, member dimension).

The updates here follow the classes that own them: ``sgd_update`` and ``adamw_update`` are
torch.optim.SGD's and torch.optim.AdamW's arithmetic (the single-model classes are torch's own,
the population tests check these functions against them); ``muon_matrix_update`` is the one
matrix update of optbasin's Muon (muon.py calls it).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optbasin.optimizers.orth import orthogonalize_many
from optbasin.optimizers.split import MATRIX

Number = Any  # a float, or a (K,) tensor of per-member values


def per_member(h: Number, like: Tensor) -> Number:
    """``h`` broadcastable against ``like``: a (K,) tensor becomes (K, 1, ..., 1); numbers pass through."""
    if isinstance(h, Tensor) and h.ndim == 1:
        return h.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)
    return h


def matrix_of(t: Tensor, members: bool) -> Tensor:
    """2-D view (out, -1) of a weight; with ``members`` a (K, out, -1) view of a stacked one."""
    lead = 2 if members else 1
    return t if t.ndim == lead + 1 else t.reshape(*t.shape[:lead], -1)


def sub_scaled_(p: Tensor, a: Number, x: Tensor) -> None:
    """p -= a x in place, ``a`` a number or one per member."""
    p.sub_(per_member(a, p) * x)


def sgd_update(p: Tensor, g: Tensor, state: dict, lr: Number, momentum: Number, weight_decay: Number,
               nesterov: bool) -> None:
    """torch.optim.SGD's rule (dampening 0): g += wd p; buf = g (first step) or momentum buf + g;
    direction = g + momentum buf (Nesterov) or buf; p -= lr direction. The buffer is kept even with
    momentum 0 (then buf == g: the same step)."""
    g = g + per_member(weight_decay, p) * p
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = g.clone()
    else:
        state["momentum_buffer"].mul_(per_member(momentum, p)).add_(g)
    buf = state["momentum_buffer"]
    sub_scaled_(p, lr, g + per_member(momentum, p) * buf if nesterov else buf)


def adamw_update(p: Tensor, g: Tensor, state: dict, step: int, lr: Number, beta1: Number, beta2: Number,
                 eps: Number, weight_decay: Number) -> None:
    """torch.optim.AdamW's rule: p *= 1 - lr wd; m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps), m and v started at zero."""
    if "exp_avg" not in state:
        state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    p.mul_(per_member(1 - lr * weight_decay, p))
    m.lerp_(g, per_member(1 - beta1, m))
    v.mul_(per_member(beta2, v)).add_(g * g * per_member(1 - beta2, v))
    bc2 = 1 - beta2**step
    denom = (v.sqrt() / per_member(bc2.sqrt() if isinstance(bc2, Tensor) else math.sqrt(bc2), v)).add_(
        per_member(eps, v))
    step_size = lr / (1 - beta1**step)
    p.sub_(per_member(step_size, p) * m / denom)


def adamw_others(state: dict, params: list, grads: list, kinds: list[str], step: int, lr: Number, hp: dict) -> None:
    """AdamW on every non-matrix parameter of a population (Muon's and NAMO's "other" rule); the
    weight decay is ``adamw_wd``, or the method's ``weight_decay`` when that is None."""
    wd = hp["weight_decay"] if hp["adamw_wd"] is None else hp["adamw_wd"]
    for i, k in enumerate(kinds):
        if k != MATRIX:
            adamw_update(params[i], grads[i], state.setdefault(i, {}), step, lr, hp["adamw_beta1"],
                         hp["adamw_beta2"], hp["adamw_eps"], wd)


def adjusted_lr(lr: Number, adjust_lr_fn: str, shape: torch.Size) -> Number:
    """Muon's per-matrix lr: lr sqrt(max(1, m/n)) ("original") or lr 0.2 sqrt(max(m, n))."""
    m, n = shape[-2], shape[-1]
    if adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, m / n))
    return lr * 0.2 * math.sqrt(max(m, n))


def muon_matrix_update(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], lr: Number, momentum: Number,
                       weight_decay: Number, nesterov: bool, adjust_lr_fn: str, orth: str, ns_steps: int,
                       dtype: torch.dtype, members: bool = False) -> None:
    """torch.optim.Muon's matrix step: M = lerp(M, G, 1 - beta); U = lerp(G, M, beta) (Nesterov) or M;
    W *= 1 - lr wd; W -= adjusted_lr(lr) Orth(U). ``members``: tensors carry a leading member dimension."""
    for g, buf in zip(grads, bufs):
        buf.lerp_(g, 1 - per_member(momentum, buf))
    updates = [g.lerp(b, per_member(momentum, g)) for g, b in zip(grads, bufs)] if nesterov else bufs
    orths = orthogonalize_many([matrix_of(u, members) for u in updates], orth, ns_steps, dtype)
    for p, o in zip(params, orths):
        p.mul_(per_member(1 - lr * weight_decay, p))
        sub_scaled_(p, adjusted_lr(lr, adjust_lr_fn, o.shape), o.reshape(p.shape))
