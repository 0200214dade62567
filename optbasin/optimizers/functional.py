"""The pieces the update rules share, written for one model (paper notation, no member dimension).

A population runs the same functions under ``torch.func.vmap`` (members.py), so every function here
reads as the single-model formula: a hyperparameter is a number or a 0-d tensor, a reduction is over
the whole tensor, and state is updated in place (vmap writes each member's slice).

``sgd_update`` and ``adamw_update`` are torch.optim.SGD's and torch.optim.AdamW's rules (the
single-model classes are torch's own; tests/test_population.py checks these against them); AdamW is
also the "other" rule of Muon and NAMO (``adamw_others``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optbasin.optimizers.split import MATRIX

Scalar = Any  # a Python number, or a 0-d tensor (a population member's value under vmap)


def ema_(buf: Tensor, x: Tensor, beta: Scalar) -> None:
    """buf <- beta buf + (1 - beta) x, in place, computed as torch.optim does: lerp(buf, x, 1 - beta)
    (out of place, then copied: vmap has no batching rule for the in-place lerp_)."""
    buf.copy_(buf.lerp(x, 1 - beta))


def ema_or_start_(buf: Tensor, x: Tensor, beta: Scalar, start: bool) -> None:
    """An EMA started at its first value: buf <- x on the first step, else ema_."""
    if start:
        buf.copy_(x)
    else:
        ema_(buf, x, beta)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """<a, b> over all entries (a 0-d tensor)."""
    return torch.sum(a * b)


def matrix_of(t: Tensor) -> Tensor:
    """2-D view (out, -1) of a weight (a conv kernel is flattened to (out, in kh kw))."""
    return t if t.ndim == 2 else t.reshape(t.shape[0], -1)


def sgd_update(
    p: Tensor, g: Tensor, st: dict, lr: Scalar, momentum: Scalar, weight_decay: Scalar, nesterov: bool
) -> None:
    """torch.optim.SGD (dampening 0): g += wd p; buf = momentum buf + g (buf starts at 0, so the
    first step's buf is g, as torch's); p -= lr (g + momentum buf) (Nesterov) or lr buf."""
    g = g + weight_decay * p
    buf = st["momentum_buffer"]
    buf.mul_(momentum).add_(g)
    p.sub_(lr * (g + momentum * buf if nesterov else buf))


def adamw_state(p: Tensor) -> dict[str, Tensor]:
    return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}


def adamw_update(
    p: Tensor, g: Tensor, st: dict, t: int, lr: Scalar, beta1: Scalar, beta2: Scalar, eps: Scalar, weight_decay: Scalar
) -> None:
    """torch.optim.AdamW: p *= 1 - lr wd; m, v EMAs of g and g^2 (zero init);
    p -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    m, v = st["exp_avg"], st["exp_avg_sq"]
    p.mul_(1 - lr * weight_decay)
    ema_(m, g, beta1)
    ema_(v, g * g, beta2)
    denom = v.sqrt() / (1 - beta2**t) ** 0.5 + eps
    p.sub_(lr / (1 - beta1**t) * m / denom)


def adamw_others(params: list, grads: list, states: list, kinds: list[str], t: int, lr: Scalar, hp: dict) -> None:
    """AdamW on every non-matrix parameter (Muon's and NAMO's "other" rule); its weight decay is
    ``adamw_wd``, or the method's ``weight_decay`` when that is None (unset)."""
    wd = hp["weight_decay"] if hp["adamw_wd"] is None else hp["adamw_wd"]
    for p, g, st, kind in zip(params, grads, states, kinds):
        if kind != MATRIX:
            adamw_update(p, g, st, t, lr, hp["adamw_beta1"], hp["adamw_beta2"], hp["adamw_eps"], wd)


def matrix_or_adamw_state(p: Tensor, kind: str, matrix_state) -> dict[str, Tensor]:
    """A hybrid's per-parameter state: ``matrix_state(p)`` for a matrix, AdamW's for the others."""
    return matrix_state(p) if kind == MATRIX else adamw_state(p)


def adjusted_lr(lr: Scalar, adjust_lr_fn: str, shape: torch.Size) -> Scalar:
    """Muon's per-matrix lr: lr sqrt(max(1, m/n)) ("original") or lr 0.2 sqrt(max(m, n))."""
    m, n = shape[-2], shape[-1]
    if adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, m / n))
    return lr * 0.2 * math.sqrt(max(m, n))
