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

from optbasin.optimizers.hybrid import HybridOptimizer, as_matrix
from optbasin.optimizers.orth import compute_dtype, orthogonalize_many
from optbasin.optimizers.split import MATRIX, OTHER
from optbasin.catalog import check_hparams

AGGREGATIONS = ("max", "l2", "hybrid")
MODES = ("lmo", "regularized")
OTHER_RULES = ("sign", "adam")
TINY = 1e-30


def block_scales(nuclear: Tensor, l1: Tensor, aggregation: str, mode: str, s: float) -> tuple[Tensor, Tensor]:
    """Multipliers (a_hidden, a_sign) so that U_l = a_hidden[l] Polar(M_l), U_o = a_sign[o] sign(m_o).

    nuclear: (L,) ||M_l||_*; l1: (K,) ||m_o||_1 of the sign blocks (empty with adam)."""
    r = s if mode == "lmo" else math.sqrt(s)
    d_hidden = r * nuclear
    if aggregation == "max":
        total = d_hidden.sum() + l1.sum()
        k_hidden, k_sign = (torch.ones_like(d_hidden), torch.ones_like(l1)) if mode == "lmo" else (
            total.expand_as(d_hidden), total.expand_as(l1))
    elif aggregation == "l2":
        total = (d_hidden.square().sum() + l1.square().sum()).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_hidden / total, l1 / total) if mode == "lmo" else (d_hidden, l1)
    else:  # hybrid
        d_group = d_hidden.sum()
        total = (d_group.square() + l1.square().sum()).sqrt().clamp_min(TINY)
        k_hidden, k_sign = (d_group / total, l1 / total) if mode == "lmo" else (d_group, l1)
        k_hidden = k_hidden.expand_as(d_hidden)
    return r * k_hidden, k_sign


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return torch.dot(a.reshape(-1), b.reshape(-1))


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

    def _ema(self, params: list[Tensor], key: str, values: list[Tensor], beta: float,
             square: bool = False) -> list[Tensor]:
        """EMA buffers state[p][key] <- beta buf + (1 - beta) x (x = value or value^2), started at the first x."""
        old_bufs, old_values = [], []
        for p, x in zip(params, values):
            st = self.state[p]
            if key in st:
                old_bufs.append(st[key])
                old_values.append(x)
            else:
                st[key] = x.square() if square else x.clone()
        if old_bufs:
            if square:
                torch._foreach_mul_(old_bufs, beta)
                torch._foreach_addcmul_(old_bufs, old_values, old_values, 1 - beta)
            else:
                torch._foreach_lerp_(old_bufs, old_values, 1 - beta)
        return [self.state[p][key] for p in params]

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        if closure is not None:
            loss = self._closure_loss(closure)
        cfg = self.param_groups[0]
        if cfg["momo"] and loss is None:
            raise ValueError(f"{type(self).__name__} with momo=True needs the batch loss: "
                             "step(loss=...) or step(closure)")
        beta = cfg["momentum"]
        hidden = [(g, p) for g in self.groups(MATRIX) for p in g["params"] if p.grad is not None]
        other = [(g, p) for g in self.groups(OTHER) for p in g["params"] if p.grad is not None]
        hp, op = [p for _, p in hidden], [p for _, p in other]
        if not hp and not op:
            return loss

        # momenta
        Ms = self._ema(hp, "momentum_buffer", [p.grad for p in hp], beta)
        ms = self._ema(op, "exp_avg", [p.grad for p in op], beta)
        adam = cfg["other_rule"] == "adam"
        if adam:
            vs = self._ema(op, "exp_avg_sq", [p.grad for p in op], cfg["beta2"], square=True)
            denoms = torch._foreach_add(torch._foreach_sqrt(vs), cfg["eps"]) if vs else []
            dirs = torch._foreach_div(ms, denoms) if ms else []
        else:
            dirs = [m.sign() for m in ms]

        # orthogonalize, nuclear norms, block scales
        device = (hp or op)[0].device
        sdtype = torch.promote_types((hp or op)[0].dtype, torch.float32)  # dtype of the scalar coefficients
        if hp:
            dtype = compute_dtype(cfg["orth_dtype"], device)
            orths, inners = orthogonalize_many([as_matrix(M) for M in Ms], cfg["orth"], cfg["ns_steps"], dtype,
                                               with_inner=True)
            nuclear = torch.stack(inners).to(sdtype)
        else:
            orths, nuclear = [], torch.zeros(0, device=device, dtype=sdtype)
        scale_nuclear = nuclear
        if cfg["stale_nuclear_norm"] and hp:
            scale_nuclear = torch.stack([self.state[p].get("nuclear_norm", n) for p, n in zip(hp, nuclear)])
            for p, n in zip(hp, nuclear):
                self.state[p]["nuclear_norm"] = n
        l1 = (torch.stack([m.abs().sum() for m in ms]).to(sdtype) if (ms and not adam)
              else torch.zeros(0, device=device, dtype=sdtype))
        a_hidden, a_sign = block_scales(scale_nuclear, l1, cfg["aggregation"], cfg["mode"], cfg["muon_lr_scale"])
        a_other = a_sign if not adam else torch.ones(len(op), device=device, dtype=sdtype)
        self._diag = {"nuclear_norm": nuclear.sum()}

        # step sizes: lr per group, or Momo's tau
        steps = {id(g): g["lr"] for g in self.param_groups}
        if cfg["momo"]:
            steps = self._momo(loss, hp + op, Ms + ms, a_hidden, scale_nuclear, a_other, ms, dirs)

        # decoupled weight decay with the scheduled lr, then the step
        for g, p in hidden + other:
            if g["weight_decay"] != 0:
                p.mul_(1 - g["lr"] * g["weight_decay"])
        for (g, p), o, a in zip(hidden, orths, a_hidden):
            p.addcmul_(o.reshape(p.shape), steps[id(g)] * a, value=-1)
        for (g, p), d, a in zip(other, dirs, a_other):
            p.addcmul_(d, steps[id(g)] * a, value=-1)
        return loss

    def _momo(self, loss, params, moments, a_hidden, nuclear, a_other, ms, dirs) -> dict[int, Tensor]:
        cfg, gs = self.param_groups[0], self.global_state
        f = loss.detach().to(nuclear.dtype)
        p_dot_g = sum((_dot(p, p.grad) for p in params), torch.zeros((), device=f.device))
        p_dot_m = sum((_dot(p, m) for p, m in zip(params, moments)), torch.zeros((), device=f.device))
        target = f - p_dot_g
        if "loss_model" not in gs:
            gs["loss_model"] = target.clone()
        else:
            gs["loss_model"].lerp_(target, 1 - cfg["momentum"])
        h = gs["loss_model"] + p_dot_m
        denom = (a_hidden * nuclear).sum() + sum((_dot(m, d) * a for m, d, a in zip(ms, dirs, a_other)),
                                                torch.zeros((), device=f.device))
        num = h - cfg["f_star"]
        if cfg["momo_clamp"]:
            num = num.clamp_min(0)
        t1 = num / denom.clamp_min(TINY)
        steps = {id(g): t1.clamp(max=g["lr"]) for g in self.param_groups}
        lr0 = self.param_groups[0]["lr"]
        self._diag["tau_over_lr"] = steps[id(self.param_groups[0])] / lr0 if lr0 > 0 else torch.ones(())
        self._diag["truncated"] = (t1 < lr0).float()
        return steps


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
