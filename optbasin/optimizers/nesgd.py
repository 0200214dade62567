"""The non-Euclidean SGD family of Crawshaw, Modi, Liu, Gower (2025) (docs/optimizers.md, sections 2 and 3).

One implementation, three choices: ``aggregation`` in {max, l2, hybrid}, ``mode`` in {lmo,
regularized}, ``other_rule`` in {sign, adam}; the named methods are presets, declared by their
catalog entries (``extends: nesgd`` and a ``preset``; optbasin/optimizers/catalog/).

State. Hidden (matrix) layers: M <- beta M + (1 - beta) G, started at M_0 = G_1 (no Nesterov, no
bias correction). Other params: m (same beta = ``momentum``) and, for ``adam``, v with ``beta2``,
started at m = g, v = g^2, no bias correction.

Blocks. A hidden layer's norm is ||W||_op / r (r the spectral scale), so its dual norm is
delta_l = r ||M_l||_* (||M||_* computed as <M, Polar(M)>) and its unit LMO direction is r Polar(M_l).
``muon_lr_scale`` s is used as the code uses it: r = s in lmo mode, r = sqrt(s) in regularized
mode (s is "the square of the spectral scale" there). A ``sign`` param is an l_inf block: dual
||m||_1, direction sign(m). Aggregation and mode give each block's step per unit lr, U_b:
- max:    Delta = sum_b delta_b;              lmo: U_b = u_b;                reg: U_b = Delta u_b
- l2:     Delta = sqrt(sum_b delta_b^2);      lmo: U_b = delta_b/Delta u_b;  reg: U_b = delta_b u_b
- hybrid: max over the hidden layers (delta_H = sum_l delta_l), then l2 between that group and
          each other block: Delta = sqrt(delta_H^2 + sum_o delta_o^2); hidden lmo: delta_H/Delta u_l,
          reg: delta_H u_l; other blocks as in l2.
``adam`` params do not take part in the aggregation (the choice the authors' dedicated MuonAdam and
MuonMax classes make): they always step m / (sqrt(v) + eps). Hence with adam, hybrid == max in lmo mode.
Presets (docs/optimizers.md, section 2): MuonAdam = max/lmo/adam: W -= lr s Polar(M); Scion = max/lmo/sign;
MuonMax = hybrid/regularized/adam: W -= lr s N Polar(M), N = sum_l ||M_l||_*; PolarGrad =
l2/regularized/adam: W -= lr s ||M_l||_* Polar(M_l).

Weight decay is decoupled, p <- (1 - lr wd) p with the scheduled lr, before the step.

Momo (``momo: true``, section 3): loss_model <- EMA_beta(f - sum_p <p, g_p>) (started at its first
value), h = loss_model + sum_p <p, m_p>, tau = min(lr, (h - f_star) / D) with D = sum_b <m_b, U_b>
(= s N^2 + sum_adam sum(m^2/(sqrt(v)+eps)) for MuonMax, s sum_l ||M_l||_* + ... for MuonAdam:
the authors' D^2 and D), then the normal step with lr replaced by tau. ``momo_clamp`` applies
(h - f_star)_+ (off by default, as in the authors' code). All of it stays on the device.

``stale_nuclear_norm``: the aggregation and Momo's D use last step's <M, Polar(M)> per layer (the
current one on the first step), the same stale N in both places as the authors' code
(gptopt/optim/muonmax_momo.py); the ``nuclear_norm`` diagnostic is the current N.
Diagnostics: ``nuclear_norm`` (N, current), and with momo ``tau_over_lr``, ``truncated``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbasin.optimizers.declared import declared
from optbasin.optimizers.functional import dot, ema_or_start_, matrix_of
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX

TINY = 1e-30


def block_scales(nuclear: Tensor, l1: Tensor, aggregation: str, mode: str, s) -> tuple[Tensor, Tensor]:
    """Multipliers (a_hidden, a_sign) so that U_l = a_hidden[l] Polar(M_l), U_o = a_sign[o] sign(m_o).

    nuclear: (L,) ||M_l||_*; l1: (O,) ||m_o||_1 of the sign blocks (empty with adam)."""
    r = s if mode == "lmo" else s**0.5
    d_hidden = r * nuclear
    if aggregation == "max":
        total = d_hidden.sum() + l1.sum()
        k_hidden, k_sign = (
            (torch.ones_like(d_hidden), torch.ones_like(l1))
            if mode == "lmo"
            else (total.expand_as(d_hidden), total.expand_as(l1))
        )
    elif aggregation == "l2":
        total = (d_hidden.square().sum() + l1.square().sum()).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_hidden / total, l1 / total) if mode == "lmo" else (d_hidden, l1)
    else:  # hybrid
        d_group = d_hidden.sum()
        total = (d_group.square() + l1.square().sum()).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_group / total, l1 / total) if mode == "lmo" else (d_group, l1)
        k_hidden = k_hidden.expand_as(d_hidden)
    return r * k_hidden, k_sign


def nesgd_rule(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    gs: dict,
    hp: dict,
    kinds: list[str],
    t: int,
    loss: Tensor | None = None,
) -> dict[str, Tensor]:
    """One NESGD step (the module docstring); returns the diagnostics."""
    beta, first, adam = hp["momentum"], t == 1, hp["other_rule"] == "adam"
    hidden = [i for i, k in enumerate(kinds) if k == MATRIX]
    other = [i for i, k in enumerate(kinds) if k != MATRIX]
    for i in hidden:
        ema_or_start_(states[i]["momentum_buffer"], grads[i], beta, first)
    for i in other:
        ema_or_start_(states[i]["exp_avg"], grads[i], beta, first)
        if adam:
            ema_or_start_(states[i]["exp_avg_sq"], grads[i].square(), hp["beta2"], first)
    M = [states[i]["momentum_buffer"] for i in hidden]
    m = [states[i]["exp_avg"] for i in other]
    dirs = (
        [x / (states[i]["exp_avg_sq"].sqrt() + hp["eps"]) for i, x in zip(other, m)] if adam else [x.sign() for x in m]
    )

    # orthogonalize, nuclear norms <M, Polar(M)>, block scales
    none = params[0].new_zeros(0)
    orths, inners = orthogonalize_many(
        [matrix_of(x) for x in M],
        hp["orth"],
        hp["ns_steps"],
        compute_dtype(hp["orth_dtype"], params[0].device),
        with_inner=True,
    )
    nuclear = torch.stack(inners) if hidden else none
    scale_nuclear = nuclear
    if hp["stale_nuclear_norm"] and hidden:
        last = [states[i]["nuclear_norm"] for i in hidden]
        scale_nuclear = nuclear if first else torch.stack(last)
        for n, x in zip(last, nuclear):
            n.copy_(x)
    l1 = torch.stack([x.abs().sum() for x in m]) if (m and not adam) else none
    a_hidden, a_sign = block_scales(scale_nuclear, l1, hp["aggregation"], hp["mode"], hp["muon_lr_scale"])
    a_other = torch.ones(len(other), dtype=none.dtype, device=none.device) if adam else a_sign
    diag = {"nuclear_norm": nuclear.sum()}

    # the step size: lr, or Momo's tau = min(lr, (h - f_star) / D)
    lr = hp["lr"]
    step = lr
    if hp["momo"]:
        target = loss.detach() - sum(dot(p, g) for p, g in zip(params, grads))
        ema_or_start_(gs["loss_model"], target, beta, first)
        h = gs["loss_model"] + sum(dot(params[i], x) for i, x in zip(hidden + other, M + m))
        D = (a_hidden * scale_nuclear).sum() + sum(dot(x, d) * a for x, d, a in zip(m, dirs, a_other))
        num = (h - hp["f_star"]).clamp_min(0) if hp["momo_clamp"] else h - hp["f_star"]
        t1 = num / D.clamp_min(TINY)
        step = t1.clamp(max=lr)
        diag.update(tau_over_lr=step / lr, truncated=(t1 < lr).float())

    # decoupled weight decay with the scheduled lr, then the step
    for p in params:
        p.mul_(1 - lr * hp["weight_decay"])
    for i, o, a in zip(hidden, orths, a_hidden):
        params[i].sub_(step * a * o.reshape(params[i].shape))
    for i, d, a in zip(other, dirs, a_other):
        params[i].sub_(step * a * d)
    return diag


@declared("nesgd")
class NESGD(HybridOptimizer):
    """Generic non-Euclidean SGD with momentum (see the module docstring for the update rules)."""

    whole_model = True
    rule = staticmethod(nesgd_rule)

    def __init__(self, params, **hparams) -> None:
        super().__init__(params, **hparams)
        self.needs_loss = self.defaults["momo"]  # `momo: true` on any preset: the trial reads needs_loss

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        if kind == MATRIX:
            return {"momentum_buffer": torch.zeros_like(p), "nuclear_norm": torch.zeros_like(p.sum())}
        return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}

    @staticmethod
    def global_state_of(p: Tensor) -> dict[str, Tensor]:
        return {"loss_model": torch.zeros_like(p.sum())}


# The named methods: NESGD under their catalog entries (extends: nesgd, a preset and the authors'
# defaults). GPT-opt's dedicated classes (gptopt/optim/muonadam.py, muonadam_momo.py,
# muonmax_momo.py) set stale_nuc=True for the Momo variants and MuonMaxMomo (MuonMax is their
# MuonMaxMomo with truncate_loss=None: stale on too).
@declared("muonadam")
class MuonAdam(NESGD):
    """Max aggregation, LMO, Adam for the others: W -= lr s Polar(M); z -= lr m / (sqrt(v) + eps)."""


@declared("scion")
class Scion(NESGD):
    """Max aggregation, LMO, sign for the others: W -= lr s Polar(M); z -= lr sign(m)."""


@declared("muonmax")
class MuonMax(NESGD):
    """Hybrid aggregation, regularized, Adam for the others: W_l -= lr s N Polar(M_l), N = sum ||M_k||_*."""


@declared("polargrad")
class PolarGrad(NESGD):
    """l2 aggregation, regularized, Adam for the others: W_l -= lr s ||M_l||_* Polar(M_l)."""


@declared("muonadam_momo")
class MuonAdamMomo(NESGD):
    """MuonAdam with Momo's step size (momo=True): needs the batch loss."""


@declared("muonmax_momo")
class MuonMaxMomo(NESGD):
    """MuonMax with Momo's step size (momo=True): needs the batch loss."""
