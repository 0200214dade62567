"""NAMO and NAMO-D (Zhang, Liu, Schaeffer 2026; docs/optimizers.md, section 4), authors' code semantics.

Per matrix W (m, n) (conv kernels viewed as (out, -1)), t the step, lr the scheduled lr:
    M <- mu1 M + (1 - mu1) G (zero init);  Mt = (1 - mu1) G + mu1 M if nesterov else M;  O = Orth(Mt)
    b = lr sqrt(1 - mu2^t) / (1 - mu1^t + 1e-12),  k = scale_coeff sqrt(max(m, n))
NAMO (one adaptive scale per matrix):
    v <- mu2 v + (1 - mu2) ||G||_F^2;  alpha = b ||Mt||_F / (sqrt(v) + eps)
    cap=True (authors):  W <- W (1 - wd min(alpha, 1));  W <- W - min(alpha k, 1) O
    cap=False (paper):   W <- W (1 - wd alpha);          W <- W - alpha k O
NAMO-D (one scale per column j = input feature):
    V_j <- mu2 V_j + (1 - mu2) ||G[:, j]||^2;  s_j = ||Mt[:, j]|| / (sqrt(V_j) + eps)
    if 0 < clamp_c <= 1: s_j <- clamp(s_j, c mean(s), mean(s) / c)   (c = 1: every column gets mean(s))
    cap=True:  W[:, j] <- W[:, j] max(0, 1 - wd min(b s_j, 1));  W[:, j] <- W[:, j] - min(b k s_j, 1) O[:, j]
    cap=False: W[:, j] <- W[:, j] (1 - wd b s_j);                 W[:, j] <- W[:, j] - b k s_j O[:, j]
The paper form is nesterov=False, cap=False. Other params: torch's AdamW (bias-corrected) with the
group's lr, betas (adamw_beta1, adamw_beta2), weight decay adamw_wd (defaults to weight_decay).

Diagnostics: NAMO ``alpha`` = mean over matrices of alpha (it includes lr, as in the formula above).
NAMO-D ``clamped_frac`` = clamped columns / all columns (all matrices); ``scale_spread`` = mean
over matrices of std(s) / mean(s) of the column scales after clamping (0: all equal; bounded
for any c in (0, 1], unlike max/min, which is infinite when a column's gradient is exactly 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX
from optbasin.catalog import check_hparams

TINY = 1e-30


def matrix_view(p: Tensor) -> Tensor:
    """(out, -1) view sharing p's storage, so that in-place updates reach p."""
    return p if p.ndim == 2 else p.view(p.shape[0], -1)


class _NamoBase(HybridOptimizer):
    def __init__(self, params, lr: float, weight_decay: float, momentum: float, beta2: float, eps: float,
                 scale_coeff: float, nesterov: bool, cap: bool, orth: str, ns_steps: int, orth_dtype: str,
                 adamw_beta1: float, adamw_beta2: float, adamw_eps: float, adamw_wd: float | None, **extra) -> None:
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, beta2=beta2, eps=eps,
                        scale_coeff=scale_coeff, nesterov=nesterov, cap=cap, orth=orth, ns_steps=ns_steps,
                        orth_dtype=orth_dtype, adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2,
                        adamw_eps=adamw_eps, adamw_wd=adamw_wd, **extra)
        check_hparams(type(self), self.catalog_entry, defaults)
        if adamw_wd is None:
            defaults["adamw_wd"] = weight_decay
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        gs = self.global_state
        gs["step"] = t = gs.get("step", 0) + 1
        self._diag = {}
        for group in self.param_groups:
            if group["kind"] == MATRIX:
                self._matrix_step(group, t)
            else:
                self._adamw(group, group["lr"], group["adamw_beta1"], group["adamw_beta2"], group["adamw_eps"],
                            group["adamw_wd"])
        return loss

    def _matrix_step(self, group: dict, t: int) -> None:
        params = self._with_grad(group)
        if not params:
            return
        mu1, mu2 = group["momentum"], group["beta2"]
        grads = [p.grad.reshape(p.shape[0], -1) for p in params]
        bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(g)) for p, g in zip(params, grads)]
        torch._foreach_lerp_(bufs, grads, 1 - mu1)
        mts = torch._foreach_lerp(grads, bufs, mu1) if group["nesterov"] else bufs
        dtype = compute_dtype(group["orth_dtype"], params[0].device)
        orths = orthogonalize_many(mts, group["orth"], group["ns_steps"], dtype)
        b = group["lr"] * math.sqrt(1 - mu2**t) / (1 - mu1**t + 1e-12)
        self._scaled_update(group, params, grads, mts, orths, b)

    def _scaled_update(self, group, params, grads, mts, orths, b) -> None:
        raise NotImplementedError


def _namo_kwargs(lr, weight_decay, momentum, beta2, eps, scale_coeff, nesterov, cap, orth, ns_steps, orth_dtype,
                 adamw_beta1, adamw_beta2, adamw_eps, adamw_wd) -> dict:
    return dict(lr=lr, weight_decay=weight_decay, momentum=momentum, beta2=beta2, eps=eps, scale_coeff=scale_coeff,
                nesterov=nesterov, cap=cap, orth=orth, ns_steps=ns_steps, orth_dtype=orth_dtype,
                adamw_beta1=adamw_beta1, adamw_beta2=adamw_beta2, adamw_eps=adamw_eps, adamw_wd=adamw_wd)


class NAMO(_NamoBase):
    """Muon with one Adam-style adaptive step size per matrix."""

    catalog_entry = "namo"

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.1, momentum: float = 0.95,
                 beta2: float = 0.99, eps: float = 1e-8, scale_coeff: float = 0.2, nesterov: bool = True,
                 cap: bool = True, orth: str = "ns5", ns_steps: int = 5, orth_dtype: str = "auto",
                 adamw_beta1: float = 0.9, adamw_beta2: float = 0.95, adamw_eps: float = 1e-8,
                 adamw_wd: float | None = None) -> None:
        super().__init__(params, **_namo_kwargs(lr, weight_decay, momentum, beta2, eps, scale_coeff, nesterov, cap,
                                                orth, ns_steps, orth_dtype, adamw_beta1, adamw_beta2, adamw_eps,
                                                adamw_wd))

    def _scaled_update(self, group, params, grads, mts, orths, b) -> None:
        mu2, eps, wd, cap = group["beta2"], group["eps"], group["weight_decay"], group["cap"]
        vs = [self.state[p].setdefault("v", torch.zeros((), device=p.device, dtype=p.dtype)) for p in params]
        for v, g_norm in zip(vs, torch._foreach_norm(grads)):
            v.mul_(mu2).add_(g_norm.square(), alpha=1 - mu2)
        alpha = b * torch.stack(torch._foreach_norm(mts)) / (torch.stack(vs).sqrt() + eps)
        for p, o, a in zip(params, orths, alpha):
            k = group["scale_coeff"] * math.sqrt(max(o.shape))
            w = matrix_view(p)
            decay, step = (1 - wd * a.clamp(max=1), (a * k).clamp(max=1)) if cap else (1 - wd * a, a * k)
            w.mul_(decay).sub_(o * step)
        self._diag["alpha"] = alpha.mean()


class NAMOD(_NamoBase):
    """NAMO with one adaptive scale per column (input feature), clamped around their mean."""

    catalog_entry = "namo_d"

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.1, momentum: float = 0.95,
                 beta2: float = 0.99, eps: float = 1e-8, scale_coeff: float = 0.2, clamp_c: float = 0.75,
                 nesterov: bool = True, cap: bool = True, orth: str = "ns5", ns_steps: int = 5,
                 orth_dtype: str = "auto", adamw_beta1: float = 0.9, adamw_beta2: float = 0.95,
                 adamw_eps: float = 1e-8, adamw_wd: float | None = None) -> None:
        super().__init__(params, clamp_c=clamp_c, **_namo_kwargs(
            lr, weight_decay, momentum, beta2, eps, scale_coeff, nesterov, cap, orth, ns_steps, orth_dtype,
            adamw_beta1, adamw_beta2, adamw_eps, adamw_wd))

    def _scaled_update(self, group, params, grads, mts, orths, b) -> None:
        mu2, eps, wd, cap, c = group["beta2"], group["eps"], group["weight_decay"], group["cap"], group["clamp_c"]
        clamping = 0 < c <= 1
        n_clamped, n_cols, spreads = [], 0, []
        for p, g, mt, o in zip(params, grads, mts, orths):
            col_v = self.state[p].setdefault("col_v", torch.zeros(g.shape[1], device=g.device, dtype=g.dtype))
            col_v.mul_(mu2).add_(g.square().sum(0), alpha=1 - mu2)
            s = mt.square().sum(0).sqrt() / (col_v.sqrt() + eps)
            if clamping:
                mean = s.mean()
                lo, hi = c * mean, mean / c
                n_clamped.append(((s < lo) | (s > hi)).sum())
                s = torch.minimum(torch.maximum(s, lo), hi)
            n_cols += s.numel()
            spreads.append(s.std(correction=0) / s.mean().clamp_min(TINY))
            k = group["scale_coeff"] * math.sqrt(max(o.shape))
            w = matrix_view(p)
            bs = b * s
            if cap:
                decay, step = (1 - wd * bs.clamp(max=1)).clamp_min(0), (bs * k).clamp(max=1)
            else:
                decay, step = 1 - wd * bs, bs * k
            w.mul_(decay).sub_(o * step)
        self._diag["clamped_frac"] = (torch.stack(n_clamped).sum() / n_cols) if clamping else torch.zeros(())
        self._diag["scale_spread"] = torch.stack(spreads).mean()
