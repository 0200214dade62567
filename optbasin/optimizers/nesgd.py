"""The non-Euclidean SGD family of Crawshaw, Modi, Liu, Gower (2025) (docs/optimizers.md, sections 2 and 3).

One implementation, three choices: ``aggregation`` in {max, l2, hybrid}, ``mode`` in {lmo,
regularized}, ``other_rule`` in {sign, adam}; the named methods are thin presets (classes below).

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

import math
from functools import partialmethod

import torch
from torch import Tensor

from optbasin.optimizers.functional import matrix_of, per_member
from optbasin.optimizers.hybrid import HybridOptimizer
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX, OTHER
from optbasin.catalog import check_hparams

TINY = 1e-30


def _sqrt(x):
    return x.sqrt() if isinstance(x, Tensor) else math.sqrt(x)


def block_scales(nuclear: Tensor, l1: Tensor, aggregation: str, mode: str, s) -> tuple[Tensor, Tensor]:
    """Multipliers (a_hidden, a_sign) so that U_l = a_hidden[l] Polar(M_l), U_o = a_sign[o] sign(m_o).

    nuclear: (L,) ||M_l||_*; l1: (O,) ||m_o||_1 of the sign blocks (empty with adam). In a population
    both carry a trailing member dimension ((L, K), (O, K)) and ``s`` may be a (K,) tensor."""
    r = s if mode == "lmo" else _sqrt(s)
    d_hidden = r * nuclear
    if aggregation == "max":
        total = d_hidden.sum(0) + l1.sum(0)
        k_hidden, k_sign = (torch.ones_like(d_hidden), torch.ones_like(l1)) if mode == "lmo" else (
            total.expand_as(d_hidden), total.expand_as(l1))
    elif aggregation == "l2":
        total = (d_hidden.square().sum(0) + l1.square().sum(0)).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_hidden / total, l1 / total) if mode == "lmo" else (d_hidden, l1)
    else:  # hybrid
        d_group = d_hidden.sum(0)
        total = (d_group.square() + l1.square().sum(0)).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_group / total, l1 / total) if mode == "lmo" else (d_group, l1)
        k_hidden = k_hidden.expand_as(d_hidden)
    return r * k_hidden, k_sign


def _dot(a: Tensor, b: Tensor, members: bool) -> Tensor:
    """<a, b>: a 0-d tensor, or one per member (K,)."""
    if members:
        return torch.linalg.vecdot(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1))
    return torch.dot(a.reshape(-1), b.reshape(-1))


def _ema(states: list[dict], key: str, values: list[Tensor], beta, square: bool = False) -> list[Tensor]:
    """EMA buffers state[key] <- beta buf + (1 - beta) x (x = value or value^2), started at the first x."""
    for st, x in zip(states, values):
        if key not in st:
            st[key] = x.square() if square else x.clone()
        elif square:
            st[key].mul_(per_member(beta, x)).add_(per_member(1 - beta, x) * x * x)
        else:
            st[key].lerp_(x, per_member(1 - beta, x))
    return [st[key] for st in states]


def nesgd_update(hidden: list[tuple[Tensor, Tensor, dict]], other: list[tuple[Tensor, Tensor, dict]],
                 gstate: dict, hp: dict, lrs: list, wds: list, loss: Tensor | None,
                 members: bool = False) -> dict[str, Tensor]:
    """One NESGD step. hidden / other: (param, grad, state) of the matrix and other blocks; lrs / wds:
    each param's scheduled lr and weight decay (hidden first); ``members``: tensors carry a leading
    member dimension and float hyperparameters may be (K,) tensors. Returns the diagnostics."""
    beta = hp["momentum"]
    hp_, op = [p for p, _, _ in hidden], [p for p, _, _ in other]
    Ms = _ema([st for _, _, st in hidden], "momentum_buffer", [g for _, g, _ in hidden], beta)
    ms = _ema([st for _, _, st in other], "exp_avg", [g for _, g, _ in other], beta)
    adam = hp["other_rule"] == "adam"
    if adam:
        vs = _ema([st for _, _, st in other], "exp_avg_sq", [g for _, g, _ in other], hp["beta2"], square=True)
        dirs = [m / (v.sqrt() + per_member(hp["eps"], v)) for m, v in zip(ms, vs)]
    else:
        dirs = [m.sign() for m in ms]

    # orthogonalize, nuclear norms, block scales
    first = (hp_ or op)[0]
    device, lead = first.device, first.shape[:1] if members else ()
    sdtype = torch.promote_types(first.dtype, torch.float32)  # dtype of the scalar coefficients
    empty = torch.zeros(0, *lead, device=device, dtype=sdtype)
    if hidden:
        dtype = compute_dtype(hp["orth_dtype"], device)
        orths, inners = orthogonalize_many([matrix_of(M, members) for M in Ms], hp["orth"], hp["ns_steps"], dtype,
                                           with_inner=True)
        nuclear = torch.stack(inners).to(sdtype)
    else:
        orths, nuclear = [], empty
    scale_nuclear = nuclear
    if hp["stale_nuclear_norm"] and hidden:
        scale_nuclear = torch.stack([st.get("nuclear_norm", n) for (_, _, st), n in zip(hidden, nuclear)])
        for (_, _, st), n in zip(hidden, nuclear):
            st["nuclear_norm"] = n
    l1 = (torch.stack([m.abs().reshape(*lead, -1).sum(-1) for m in ms]).to(sdtype) if (ms and not adam) else empty)
    a_hidden, a_sign = block_scales(scale_nuclear, l1, hp["aggregation"], hp["mode"], hp["muon_lr_scale"])
    a_other = a_sign if not adam else torch.ones(len(op), *lead, device=device, dtype=sdtype)
    diag = {"nuclear_norm": nuclear.sum(0)}

    # step sizes: each param's lr, or Momo's tau
    steps = list(lrs)
    if hp["momo"]:
        steps = _momo(hidden + other, Ms + ms, loss, gstate, hp, lrs, a_hidden, scale_nuclear, a_other, ms, dirs,
                      members, diag)

    # decoupled weight decay with the scheduled lr, then the step
    for p, lr, wd in zip(hp_ + op, lrs, wds):
        if isinstance(wd, Tensor) or wd != 0:
            p.mul_(per_member(1 - lr * wd, p))
    for p, o, a, t in zip(hp_, orths, a_hidden, steps):
        p.sub_(o.reshape(p.shape) * per_member(t * a, p))
    for p, d, a, t in zip(op, dirs, a_other, steps[len(hp_):]):
        p.sub_(d * per_member(t * a, p))
    return diag


def _momo(blocks, moments, loss, gs, hp, lrs, a_hidden, nuclear, a_other, ms, dirs, members, diag) -> list:
    """Momo's step size per param: tau = min(lr, (h - f_star) / D) (module docstring); diagnostics."""
    f = loss.detach().to(nuclear.dtype)
    p_dot_g = sum((_dot(p, g, members) for p, g, _ in blocks), torch.zeros_like(f))
    p_dot_m = sum((_dot(p, m, members) for (p, _, _), m in zip(blocks, moments)), torch.zeros_like(f))
    target = f - p_dot_g
    if "loss_model" not in gs:
        gs["loss_model"] = target.clone()
    else:
        gs["loss_model"].lerp_(target, per_member(1 - hp["momentum"], target))
    h = gs["loss_model"] + p_dot_m
    denom = (a_hidden * nuclear).sum(0) + sum((_dot(m, d, members) * a for m, d, a in zip(ms, dirs, a_other)),
                                             torch.zeros_like(f))
    num = h - hp["f_star"]
    if hp["momo_clamp"]:
        num = num.clamp_min(0)
    t1 = num / denom.clamp_min(TINY)
    lr0 = lrs[0]
    diag["tau_over_lr"] = t1.clamp(max=lr0) / lr0 if (isinstance(lr0, Tensor) or lr0 > 0) else torch.ones(())
    diag["truncated"] = (t1 < lr0).float()
    return [t1.clamp(max=lr) for lr in lrs]


class NESGD(HybridOptimizer):
    """Generic non-Euclidean SGD with momentum (see the module docstring for the update rules)."""

    catalog_entry = "nesgd"

    def __init__(self, params, lr: float = 1e-3, aggregation: str = "max", mode: str = "lmo",
                 other_rule: str = "adam", muon_lr_scale: float = 10.0, momentum: float = 0.95,
                 beta2: float = 0.95, eps: float = 1e-8, weight_decay: float = 0.1, orth: str = "polar_express",
                 ns_steps: int = 5, orth_dtype: str = "auto", stale_nuclear_norm: bool = False,
                 momo: bool = False, f_star: float = 0.0, momo_clamp: bool = False) -> None:
        defaults = dict(lr=lr, aggregation=aggregation, mode=mode, other_rule=other_rule, muon_lr_scale=muon_lr_scale,
                        momentum=momentum, beta2=beta2, eps=eps, weight_decay=weight_decay, orth=orth,
                        ns_steps=ns_steps, orth_dtype=orth_dtype, stale_nuclear_norm=stale_nuclear_norm, momo=momo,
                        f_star=f_star, momo_clamp=momo_clamp)
        check_hparams(type(self), self.catalog_entry, defaults)
        super().__init__(params, defaults)
        self.needs_loss = momo  # `momo: true` on any preset: the trial reads needs_loss from the instance

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        if closure is not None:
            loss = self._closure_loss(closure)
        cfg = self.param_groups[0]
        if cfg["momo"] and loss is None:
            raise ValueError(f"{type(self).__name__} with momo=True needs the batch loss: "
                             "step(loss=...) or step(closure)")
        hidden = [(g, p) for g in self.groups(MATRIX) for p in g["params"] if p.grad is not None]
        other = [(g, p) for g in self.groups(OTHER) for p in g["params"] if p.grad is not None]
        if not hidden and not other:
            return loss
        self._diag = nesgd_update([(p, p.grad, self.state[p]) for _, p in hidden],
                                  [(p, p.grad, self.state[p]) for _, p in other], self.global_state, cfg,
                                  [g["lr"] for g, _ in hidden + other], [g["weight_decay"] for g, _ in hidden + other],
                                  loss)
        return loss

    @staticmethod
    def population_step(state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        """The same update on a population (tensors with a member dimension, (K,) hyperparameters)."""
        blocks = {kind: [(params[i], grads[i], state.setdefault(i, {})) for i, k in enumerate(kinds) if k == kind]
                  for kind in (MATRIX, OTHER)}
        n = len(params)
        return nesgd_update(blocks[MATRIX], blocks[OTHER], state.setdefault("global", {}), hp, [hp["lr"]] * n,
                            [hp["weight_decay"]] * n, loss, members=True)


# The named methods: NESGD with the preset's choices and the authors' defaults (catalog entries of
# the same names; a test keeps these signatures equal to the catalog). GPT-opt's dedicated classes
# (gptopt/optim/muonadam.py, muonadam_momo.py, muonmax_momo.py) set stale_nuc=True for the Momo
# variants and MuonMaxMomo (MuonMax is their MuonMaxMomo with truncate_loss=None: stale on too).
class MuonAdam(NESGD):
    """Max aggregation, LMO, Adam for the others: W -= lr s Polar(M); z -= lr m / (sqrt(v) + eps)."""

    catalog_entry = "muonadam"
    __init__ = partialmethod(NESGD.__init__, aggregation="max", mode="lmo", other_rule="adam",
                             stale_nuclear_norm=True)


class Scion(NESGD):
    """Max aggregation, LMO, sign for the others: W -= lr s Polar(M); z -= lr sign(m)."""

    catalog_entry = "scion"
    __init__ = partialmethod(NESGD.__init__, aggregation="max", mode="lmo", other_rule="sign")


class MuonMax(NESGD):
    """Hybrid aggregation, regularized, Adam for the others: W_l -= lr s N Polar(M_l), N = sum ||M_k||_*."""

    catalog_entry = "muonmax"
    __init__ = partialmethod(NESGD.__init__, aggregation="hybrid", mode="regularized", other_rule="adam",
                             stale_nuclear_norm=True)


class PolarGrad(NESGD):
    """l2 aggregation, regularized, Adam for the others: W_l -= lr s ||M_l||_* Polar(M_l)."""

    catalog_entry = "polargrad"
    __init__ = partialmethod(NESGD.__init__, aggregation="l2", mode="regularized", other_rule="adam")


class MuonAdamMomo(NESGD):
    """MuonAdam with Momo's step size (momo=True): needs the batch loss."""

    catalog_entry = "muonadam_momo"
    __init__ = partialmethod(NESGD.__init__, aggregation="max", mode="lmo", other_rule="adam",
                             stale_nuclear_norm=True, momo=True)


class MuonMaxMomo(NESGD):
    """MuonMax with Momo's step size (momo=True): needs the batch loss."""

    catalog_entry = "muonmax_momo"
    __init__ = partialmethod(NESGD.__init__, aggregation="hybrid", mode="regularized", other_rule="adam",
                             stale_nuclear_norm=True, momo=True)
