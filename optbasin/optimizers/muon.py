"""Muon on the matrix parameters, AdamW on the others (reference section 2, first bullet).

Matrix update, exactly torch.optim.Muon's (torch >= 2.9):
    M <- lerp(M, G, 1 - beta)                       (EMA, zero init)
    U = lerp(G, M, beta) if nesterov else M         (Nesterov: (1 - beta) G + beta M)
    W <- W (1 - lr wd);  W <- W - lr k(m, n) Orth(U)
with k = sqrt(max(1, m/n)) ("original") or 0.2 sqrt(max(m, n)) ("match_rms_adamw"), (m, n) the
2-D shape (conv kernels flattened to (out, -1)). Orth is our orth module, batched over same-shape
matrices, in ``orth_dtype`` (torch.optim.Muon always uses bf16; with orth_dtype="bfloat16" and
orth="ns5" the two are bit-identical). Other params: torch's AdamW with lr = adamw_lr_ratio * lr.

Choices where the reference leaves room: ``adjust_lr_fn`` defaults to "match_rms_adamw" so that
one learning rate serves both halves (Moonlight; how the NAMO paper compares Muon with AdamW at
one lr grid); AdamW betas default to (0.9, 0.95) as in the NAMO setup.
"""

from __future__ import annotations

import math

import torch

from optbasin.optimizers.hybrid import HybridOptimizer, as_matrix
from optbasin.optimizers.orth import DTYPES, METHODS, compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX
from optbasin.optimizers.validation import check_bool, check_choice, check_number

ADJUST_LR_FNS = ("original", "match_rms_adamw")


def adjusted_lr(lr: float, adjust_lr_fn: str, shape: torch.Size) -> float:
    m, n = shape[0], shape[1]
    if adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, m / n))
    return lr * 0.2 * math.sqrt(max(m, n))


def check_orth(owner: str, orth: str, ns_steps: int, orth_dtype: str) -> None:
    check_choice(owner, "orth", orth, METHODS, "orthogonalization: Newton-Schulz quintic, Polar Express or exact SVD")
    check_number(owner, "ns_steps", ns_steps, "iterations of the orthogonalization polynomial", ge=1, le=100,
                 integer=True)
    check_choice(owner, "orth_dtype", orth_dtype, tuple(DTYPES),
                 "compute dtype of the orthogonalization; auto = bfloat16 on CUDA, float32 elsewhere")


def check_adamw(owner: str, beta1: float, beta2: float, eps: float, wd: float | None, lr_ratio: float = 1.0) -> None:
    check_number(owner, "adamw_beta1", beta1, "AdamW first-moment EMA coefficient (other params)", ge=0, lt=1)
    check_number(owner, "adamw_beta2", beta2, "AdamW second-moment EMA coefficient (other params)", ge=0, lt=1)
    check_number(owner, "adamw_eps", eps, "AdamW denominator epsilon (other params)", gt=0)
    if wd is not None:
        check_number(owner, "adamw_wd", wd, "AdamW decoupled weight decay of the other params", ge=0)
    check_number(owner, "adamw_lr_ratio", lr_ratio, "AdamW lr of the other params = adamw_lr_ratio * lr", gt=0)


class Muon(HybridOptimizer):
    def __init__(self, params, lr: float = 0.01, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, adjust_lr_fn: str = "match_rms_adamw", orth: str = "ns5",
                 ns_steps: int = 5, orth_dtype: str = "auto", adamw_beta1: float = 0.9, adamw_beta2: float = 0.95,
                 adamw_eps: float = 1e-8, adamw_wd: float | None = None, adamw_lr_ratio: float = 1.0) -> None:
        owner = type(self).__name__
        check_number(owner, "lr", lr, "learning rate", ge=0)
        check_number(owner, "weight_decay", weight_decay, "decoupled weight decay, W <- (1 - lr wd) W", ge=0)
        check_number(owner, "momentum", momentum, "EMA coefficient of the momentum buffer", ge=0, lt=1)
        check_bool(owner, "nesterov", nesterov, "orthogonalize (1 - beta) G + beta M instead of M")
        check_choice(owner, "adjust_lr_fn", adjust_lr_fn, ADJUST_LR_FNS,
                     "per-shape lr factor: sqrt(max(1, m/n)) or 0.2 sqrt(max(m, n))")
        check_orth(owner, orth, ns_steps, orth_dtype)
        check_adamw(owner, adamw_beta1, adamw_beta2, adamw_eps, adamw_wd, adamw_lr_ratio)
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        adjust_lr_fn=adjust_lr_fn, orth=orth, ns_steps=ns_steps, orth_dtype=orth_dtype,
                        adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2, adamw_eps=adamw_eps,
                        adamw_wd=weight_decay if adamw_wd is None else adamw_wd, adamw_lr_ratio=adamw_lr_ratio)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            if group["kind"] == MATRIX:
                self._muon(group)
            else:
                self._adamw(group, group["adamw_lr_ratio"] * group["lr"], group["adamw_beta1"],
                            group["adamw_beta2"], group["adamw_eps"], group["adamw_wd"])
        return loss

    def _muon(self, group: dict) -> None:
        params = self._with_grad(group)
        if not params:
            return
        lr, beta, wd = group["lr"], group["momentum"], group["weight_decay"]
        grads = [p.grad for p in params]
        bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
        torch._foreach_lerp_(bufs, grads, 1 - beta)
        updates = torch._foreach_lerp(grads, bufs, beta) if group["nesterov"] else bufs
        dtype = compute_dtype(group["orth_dtype"], params[0].device)
        orths = orthogonalize_many([as_matrix(u) for u in updates], group["orth"], group["ns_steps"], dtype)
        if wd != 0:
            torch._foreach_mul_(params, 1 - lr * wd)
        for p, o in zip(params, orths):
            p.add_(o.reshape(p.shape), alpha=-adjusted_lr(lr, group["adjust_lr_fn"], o.shape))
