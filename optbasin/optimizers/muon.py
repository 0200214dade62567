"""Muon on the matrix parameters, AdamW on the others (docs/optimizers.md, section 2).

Matrix update, exactly torch.optim.Muon's (torch >= 2.9):
    M <- lerp(M, G, 1 - beta)                       (EMA, zero init)
    U = lerp(G, M, beta) if nesterov else M         (Nesterov: (1 - beta) G + beta M)
    W <- W (1 - lr wd);  W <- W - lr k(m, n) Orth(U)
with k = sqrt(max(1, m/n)) ("original") or 0.2 sqrt(max(m, n)) ("match_rms_adamw"), (m, n) the
2-D shape (conv kernels flattened to (out, -1)). Orth is our orth module, batched over same-shape
matrices, in ``orth_dtype`` (torch.optim.Muon always uses bf16; with orth_dtype="bfloat16" and
orth="ns5" the two are bit-identical). Other params: torch's AdamW with lr = adamw_lr_ratio * lr.

Choices of optbasin where torch.optim.Muon's defaults differ (docs/optimizers.md lists them): ``adjust_lr_fn`` defaults to "match_rms_adamw" so that
one learning rate serves both halves (Moonlight; how the NAMO paper compares Muon with AdamW at
one lr grid); AdamW betas default to (0.9, 0.95) as in the NAMO setup.
"""

from __future__ import annotations

import math

import torch

from optbasin.optimizers.hybrid import HybridOptimizer, as_matrix
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX
from optbasin.catalog import check_hparams

ADJUST_LR_FNS = ("original", "match_rms_adamw")


def adjusted_lr(lr: float, adjust_lr_fn: str, shape: torch.Size) -> float:
    m, n = shape[0], shape[1]
    if adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, m / n))
    return lr * 0.2 * math.sqrt(max(m, n))


class Muon(HybridOptimizer):
    def __init__(self, params, lr: float = 0.01, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, adjust_lr_fn: str = "match_rms_adamw", orth: str = "ns5",
                 ns_steps: int = 5, orth_dtype: str = "auto", adamw_beta1: float = 0.9, adamw_beta2: float = 0.95,
                 adamw_eps: float = 1e-8, adamw_wd: float | None = None, adamw_lr_ratio: float = 1.0) -> None:
        check_hparams(type(self), "muon", dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn,
            orth=orth, ns_steps=ns_steps, orth_dtype=orth_dtype, adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2,
            adamw_eps=adamw_eps, adamw_wd=adamw_wd, adamw_lr_ratio=adamw_lr_ratio))
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
