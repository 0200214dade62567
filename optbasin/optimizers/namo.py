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

Hyperparameters: optbasin/optimizers/catalog/namo.yaml and namo_d.yaml.

Diagnostics: NAMO ``alpha`` = mean over matrices of alpha (it includes lr, as in the formula above).
NAMO-D ``clamped_frac`` = clamped columns / all columns (all matrices); ``scale_spread`` = mean
over matrices of std(s) / mean(s) of the column scales after clamping (0: all equal; bounded
for any c in (0, 1], unlike max/min, which is infinite when a column's gradient is exactly 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from optbasin.optimizers.declared import declared
from optbasin.optimizers.functional import adamw_others, ema_, matrix_of, matrix_or_adamw_state
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX

TINY = 1e-30


def namo_rule(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    gstate: dict,
    hp: dict,
    kinds: list[str],
    t: int,
    loss=None,
    per_column: bool = False,
) -> dict[str, Tensor]:
    """One NAMO (per_column=False) or NAMO-D step: the matrix update above, AdamW on the others."""
    mats = [i for i, k in enumerate(kinds) if k == MATRIX]
    mu1, mu2 = hp["momentum"], hp["beta2"]
    G = [matrix_of(grads[i]) for i in mats]
    M = [states[i]["momentum_buffer"] for i in mats]
    for m, g in zip(M, G):
        ema_(m, g, mu1)
    Mt = [g.lerp(m, mu1) for g, m in zip(G, M)] if hp["nesterov"] else M  # (1 - mu1) G + mu1 M
    dtype = compute_dtype(hp["orth_dtype"], params[0].device)
    O = orthogonalize_many(Mt, hp["orth"], hp["ns_steps"], dtype)
    b = hp["lr"] * (1 - mu2**t) ** 0.5 / (1 - mu1**t + 1e-12)
    scales, moved = [], []
    for i, g, mt, o in zip(mats, G, Mt, O):
        if per_column:
            s, n = clamp_to_mean(column_scales(g, mt, states[i], hp), hp["clamp_c"])
            moved.append(n)
        else:
            s = matrix_scale(g, mt, states[i], hp)
        k = hp["scale_coeff"] * math.sqrt(max(o.shape))
        decay, step = decay_and_step(b * s, k, hp["weight_decay"], hp["cap"], per_column)
        matrix_of(params[i]).mul_(decay).sub_(step * o)  # decay, step: one number, or one per column
        scales.append(s)
    adamw_others(params, grads, states, kinds, t, hp["lr"], hp)
    if not mats:
        return {}
    if per_column:
        spreads = [s.std(correction=0) / s.mean().clamp_min(TINY) for s in scales]
        n_cols = sum(s.numel() for s in scales)
        return {"clamped_frac": sum(moved) / n_cols, "scale_spread": torch.stack(spreads).mean()}
    return {"alpha": b * torch.stack(scales).mean()}


def matrix_scale(g: Tensor, mt: Tensor, st: dict, hp: dict) -> Tensor:
    """NAMO: ||Mt||_F / (sqrt(v) + eps), v <- mu2 v + (1 - mu2) ||G||_F^2 (alpha = b times it)."""
    ema_(st["v"], torch.linalg.matrix_norm(g).square(), hp["beta2"])
    return torch.linalg.matrix_norm(mt) / (st["v"].sqrt() + hp["eps"])


def column_scales(g: Tensor, mt: Tensor, st: dict, hp: dict) -> Tensor:
    """NAMO-D: s_j = ||Mt[:, j]|| / (sqrt(V_j) + eps), V_j <- mu2 V_j + (1 - mu2) ||G[:, j]||^2."""
    ema_(st["col_v"], g.square().sum(0), hp["beta2"])
    return mt.square().sum(0).sqrt() / (st["col_v"].sqrt() + hp["eps"])


def clamp_to_mean(s: Tensor, c) -> tuple[Tensor, Tensor]:
    """s clamped to [c mean(s), mean(s) / c] when 0 < c <= 1 (else as is), and how many entries moved."""
    lo, hi = c * s.mean(), s.mean() / c
    on = torch.as_tensor((c > 0) & (c <= 1))
    return torch.where(on, s.clamp(lo, hi), s), ((s < lo) | (s > hi)).sum() * on


def decay_and_step(a: Tensor, k: float, wd, cap: bool, per_column: bool) -> tuple[Tensor, Tensor]:
    """W <- W decay - step O: the authors' caps (1 - wd min(a, 1), min(a k, 1); NAMO-D's decay also
    at least 0) or the paper's (1 - wd a, a k)."""
    if not cap:
        return 1 - wd * a, a * k
    decay = 1 - wd * a.clamp(max=1)
    return decay.clamp_min(0) if per_column else decay, (a * k).clamp(max=1)


def namo_state(w: Tensor) -> dict[str, Tensor]:
    m = matrix_of(w)
    return {"momentum_buffer": torch.zeros_like(m), "v": torch.zeros_like(m[0, 0]), "col_v": torch.zeros_like(m[0])}


@declared("namo")
class NAMO(HybridOptimizer):
    """Muon with one Adam-style adaptive step size per matrix."""

    rule = staticmethod(namo_rule)

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        return matrix_or_adamw_state(p, kind, namo_state)


def namo_d_rule(*args, **kwargs) -> dict[str, Tensor]:
    return namo_rule(*args, **kwargs, per_column=True)


@declared("namo_d")
class NAMOD(NAMO):
    """NAMO with one adaptive scale per column (input feature), clamped around their mean."""

    rule = staticmethod(namo_d_rule)
