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

from optbasin.optimizers.functional import adamw_others, matrix_of, per_member
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX
from optbasin.catalog import check_hparams

TINY = 1e-30


# The update, written once over matrices of shape (..., m, n): a leading member dimension (K, m, n)
# is a population (optbasin/training/population.py), where a float hyperparameter may be a (K,) tensor.
def namo_matrix_update(params: list[Tensor], grads: list[Tensor], states: list[dict], t: int, hp: dict,
                       per_column: bool, members: bool = False) -> dict[str, Tensor]:
    """One NAMO (per_column=False) or NAMO-D step of the matrices ``params`` (their grads, their
    state dicts); returns the diagnostics (0-d, or (K,) for a population)."""
    mu1, mu2 = hp["momentum"], hp["beta2"]
    views = [matrix_of(p, members) for p in params]
    grads = [matrix_of(g, members) for g in grads]
    bufs = [st.setdefault("momentum_buffer", torch.zeros_like(g)) for st, g in zip(states, grads)]
    for buf, g in zip(bufs, grads):
        buf.lerp_(g, 1 - per_member(mu1, buf))
    mts = [g.lerp(buf, per_member(mu1, g)) for g, buf in zip(grads, bufs)] if hp["nesterov"] else bufs
    orths = orthogonalize_many(mts, hp["orth"], hp["ns_steps"], compute_dtype(hp["orth_dtype"], grads[0].device))
    bc2 = 1 - mu2**t
    b = hp["lr"] * (bc2.sqrt() if isinstance(bc2, Tensor) else math.sqrt(bc2)) / (1 - mu1**t + 1e-12)
    update = _column_scaled if per_column else _matrix_scaled
    return update(views, grads, mts, orths, states, b, hp)


def _frobenius(x: Tensor) -> Tensor:
    """||X||_F of each matrix in (..., m, n)."""
    return torch.linalg.matrix_norm(x)


def _matrix_scaled(views, grads, mts, orths, states, b, hp) -> dict[str, Tensor]:
    """NAMO: alpha = b ||Mt||_F / (sqrt(v) + eps), v the EMA of ||G||_F^2 (one per matrix and member)."""
    mu2, eps, wd = hp["beta2"], hp["eps"], hp["weight_decay"]
    alphas = []
    for w, g, mt, o, st in zip(views, grads, mts, orths, states):
        g_norm = _frobenius(g)
        v = st.setdefault("v", torch.zeros_like(g_norm))
        v.mul_(mu2).add_((1 - mu2) * g_norm.square())
        a = b * _frobenius(mt) / (v.sqrt() + eps)
        k = hp["scale_coeff"] * math.sqrt(max(o.shape[-2:]))
        decay, step = (1 - wd * a.clamp(max=1), (a * k).clamp(max=1)) if hp["cap"] else (1 - wd * a, a * k)
        w.mul_(per_member(decay, w)).sub_(o * per_member(step, w))
        alphas.append(a)
    return {"alpha": torch.stack(alphas).mean(0)}


def _column_scaled(views, grads, mts, orths, states, b, hp) -> dict[str, Tensor]:
    """NAMO-D: s_j = ||Mt[:, j]|| / (sqrt(V_j) + eps), clamped to [c mean(s), mean(s) / c] when 0 < c <= 1."""
    mu2, eps, wd, c = hp["beta2"], hp["eps"], hp["weight_decay"], hp["clamp_c"]
    clamping = (c > 0) & (c <= 1)  # a bool, or one per member
    n_clamped, n_cols, spreads = [], 0, []
    for w, g, mt, o, st in zip(views, grads, mts, orths, states):
        col_v = st.setdefault("col_v", torch.zeros_like(g[..., 0, :]))
        col_v.mul_(per_member(mu2, col_v)).add_(per_member(1 - mu2, col_v) * g.square().sum(-2))
        s = mt.square().sum(-2).sqrt() / (col_v.sqrt() + per_member(eps, col_v))
        mean = s.mean(-1, keepdim=True)
        c_ = per_member(c, s)
        lo, hi = c_ * mean, mean / c_
        outside = ((s < lo) | (s > hi)).sum(-1)
        clamped = torch.minimum(torch.maximum(s, lo), hi)
        if isinstance(clamping, Tensor):
            s = torch.where(clamping.reshape(-1, 1), clamped, s)
            n_clamped.append(outside * clamping)
        elif clamping:
            s = clamped
            n_clamped.append(outside)
        n_cols += s.shape[-1]
        spreads.append(s.std(-1, correction=0) / s.mean(-1).clamp_min(TINY))
        k = per_member(hp["scale_coeff"], s) * math.sqrt(max(o.shape[-2:]))
        bs = per_member(b, s) * s
        wd_ = per_member(wd, s)
        if hp["cap"]:
            decay, step = (1 - wd_ * bs.clamp(max=1)).clamp_min(0), (bs * k).clamp(max=1)
        else:
            decay, step = 1 - wd_ * bs, bs * k
        w.mul_(decay.unsqueeze(-2)).sub_(o * step.unsqueeze(-2))
    frac = torch.stack(n_clamped).sum(0) / n_cols if n_clamped else torch.zeros_like(spreads[0])
    return {"clamped_frac": frac, "scale_spread": torch.stack(spreads).mean(0)}


class _NamoBase(HybridOptimizer):
    per_column = False

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
            params = self._with_grad(group)
            if group["kind"] == MATRIX and params:
                self._diag.update(namo_matrix_update(params, [p.grad for p in params],
                                                     [self.state[p] for p in params], t, group, self.per_column))
            elif group["kind"] != MATRIX:
                self._adamw(group, group["lr"], group["adamw_beta1"], group["adamw_beta2"], group["adamw_eps"],
                            group["adamw_wd"])
        return loss

    @classmethod
    def population_step(cls, state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        """The same updates on a population (tensors with a member dimension, (K,) hyperparameters)."""
        matrix = [i for i, k in enumerate(kinds) if k == MATRIX]
        diag = namo_matrix_update([params[i] for i in matrix], [grads[i] for i in matrix],
                                  [state.setdefault(i, {}) for i in matrix], step, hp, cls.per_column,
                                  members=True) if matrix else {}
        adamw_others(state, params, grads, kinds, step, hp["lr"], hp)
        return diag


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


class NAMOD(_NamoBase):
    """NAMO with one adaptive scale per column (input feature), clamped around their mean."""

    catalog_entry = "namo_d"
    per_column = True

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.1, momentum: float = 0.95,
                 beta2: float = 0.99, eps: float = 1e-8, scale_coeff: float = 0.2, clamp_c: float = 0.75,
                 nesterov: bool = True, cap: bool = True, orth: str = "ns5", ns_steps: int = 5,
                 orth_dtype: str = "auto", adamw_beta1: float = 0.9, adamw_beta2: float = 0.95,
                 adamw_eps: float = 1e-8, adamw_wd: float | None = None) -> None:
        super().__init__(params, clamp_c=clamp_c, **_namo_kwargs(
            lr, weight_decay, momentum, beta2, eps, scale_coeff, nesterov, cap, orth, ns_steps, orth_dtype,
            adamw_beta1, adamw_beta2, adamw_eps, adamw_wd))
