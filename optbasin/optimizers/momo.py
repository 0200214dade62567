"""Euclidean Momo and Momo-Adam (Schaipp et al. 2023; docs/optimizers.md, section 3), step for step what the
momo-opt package (0.1.0) computes, written from the paper's formulas.

Momo (beta = ``momentum``): d <- beta d + (1-beta) g;  fbar <- beta fbar + (1-beta) f;
gam <- beta gam + (1-beta) <g, x>;  with rho = 1 - beta^k under bias correction (else 1, and the EMAs
start at d = g, fbar = f, gam = <g, x>; with it they start at 0),
    tau = min(lr / rho, (c (fbar - rho f_star) + <d, x> - c gam)_+ / ||d||^2),  c = 1 + lr wd,
    x <- (x - tau d) / c        (proximal weight decay; c = 1 without it).
Momo-Adam: d and gam use beta1, v <- beta2 v + (1-beta2) g^2 (zero init), D = sqrt(v / (1-beta2^k)) + eps,
fbar <- beta1 fbar + (1-beta1) f started at 0 (not bias-corrected: rho = 1 - beta1^k enters the cap),
    tau = min(lr / rho, (c (fbar - rho f_star) + <d, x> - c gam)_+ / <d, d / D>),
    x <- x - tau d / D, then x <- x / c (``divide``) or first x <- (1 - lr wd) x (not ``divide``).
``fstar_online`` is momo-opt's ``use_fstar``: f_star is re-estimated every step (never below the
initial f_star). The step size is a device tensor (no host sync in step()).
Diagnostics (first group): ``tau_over_lr`` = tau / lr (lr: the scheduled lr) and ``truncated`` = 1.0
when the model's step is below the cap lr / rho (tau < lr when rho = 1), else 0.0. Inner products
are summed over all groups; each group uses its own lr and weight decay (as momo-opt does).
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbasin.optimizers.functional import per_member
from optbasin.optimizers.hybrid import GLOBAL
from optbasin.catalog import check_hparams


def _dot(a: Tensor, b: Tensor, members: bool = False) -> Tensor:
    """<a, b> (one per member with ``members``), the same reduction as momo-opt (torch.dot sums in another order)."""
    return (a * b).reshape(a.shape[0], -1).sum(-1) if members else torch.sum(a * b)


def _ema_(buf: Tensor, x: Tensor, beta) -> None:
    """buf <- beta buf + (1 - beta) x, ``beta`` a number or one per member."""
    buf.mul_(per_member(beta, buf)).add_(per_member(1 - beta, x) * x)


# The updates, written once over lists of (param, grad, state) per group: in a population
# (optbasin/training/population.py) tensors carry a leading member dimension and a float hyperparameter may be
# a (K,) tensor; the loss is then one per member.
def step_size(group: dict, gs: dict, fbar: Tensor, dot: Tensor, gam: Tensor, norm: Tensor, rho) -> Tensor:
    """tau of one group; updates the online f_star estimate when fstar_online."""
    lr, wd = group["lr"], group["weight_decay"]
    c = 1 + lr * wd
    if group["fstar_online"]:
        cap = c * fbar + dot - c * gam
        lb = gs["f_star"]
        lowered = torch.maximum(cap / (2 * c * rho), torch.zeros_like(lb) + group["f_star"])
        gs["f_star"] = torch.where(cap < c * rho * lb, lowered, lb)
    lb = gs["f_star"]
    t1 = (c * (fbar - rho * lb) + dot - c * gam).clamp_min(0) / norm
    tau = t1.clamp(max=lr / rho)
    if group["fstar_online"]:
        h = fbar + dot - gam
        gs["f_star"] = ((h - 0.5 * tau * norm) / rho).clamp_min(group["f_star"])
    return tau, t1


def _diag(tau: Tensor, t1: Tensor, lr, rho) -> dict[str, Tensor]:
    positive = isinstance(lr, Tensor) or lr > 0
    return {"tau_over_lr": tau / lr if positive else torch.ones(()), "truncated": (t1 < lr / rho).float()}


def _start(gs: dict, f: Tensor, f_star, zero: bool) -> int:
    """Count the step; on the first, start the loss EMA (at 0 or at f) and the f_star estimate."""
    gs["k"] = k = gs.get("k", 0) + 1
    if k == 1:
        gs["fbar"] = torch.zeros_like(f) if zero else f.clone()
        gs["f_star"] = torch.zeros_like(f) + (per_member(f_star, f) if isinstance(f_star, Tensor) else f_star)
    return k


def _decay_(p: Tensor, lr, wd, divide: bool) -> None:
    """Proximal (p / (1 + lr wd)) or decoupled (p (1 - lr wd)) weight decay, when wd > 0."""
    if isinstance(wd, Tensor) or isinstance(lr, Tensor):
        p.div_(per_member(1 + lr * wd, p)) if divide else p.mul_(per_member(1 - wd * lr, p))
    elif wd > 0:
        p.div_(1 + lr * wd) if divide else p.mul_(1 - wd * lr)


def momo_update(groups: list[tuple[dict, list[tuple[Tensor, Tensor, dict]]]], gs: dict, loss: Tensor,
                members: bool = False) -> dict[str, Tensor]:
    """One Momo step; groups: (hyperparameters, [(param, grad, state)]). Returns the diagnostics."""
    cfg = groups[0][0]
    beta, bc = cfg["momentum"], cfg["bias_correction"]
    f = loss.detach()
    k = _start(gs, f, cfg["f_star"], zero=bc)
    gs["fbar"] = beta * gs["fbar"] + (1 - beta) * f
    rho = 1 - beta**k if bc else 1.0
    dot = gam = norm = torch.zeros_like(f)
    for _, items in groups:
        for p, g, st in items:
            g_dot_x = _dot(p, g, members)
            if "grad_avg" not in st:
                st["grad_avg"] = torch.zeros_like(p) if bc else g.clone()
                st["grad_dot_w"] = torch.zeros_like(g_dot_x) if bc else g_dot_x.clone()
            d, gdw = st["grad_avg"], st["grad_dot_w"]
            _ema_(d, g, beta)
            _ema_(gdw, g_dot_x, beta)
            dot, gam, norm = dot + _dot(p, d, members), gam + gdw, norm + _dot(d, d, members)
    diag = {}
    for group, items in groups:
        tau, t1 = step_size(group, gs, gs["fbar"], dot, gam, norm, rho)
        diag = diag or _diag(tau, t1, group["lr"], rho)
        for p, _, st in items:
            p.addcmul_(st["grad_avg"], per_member(-tau, p))  # momo-opt's op; tau 0-d or one per member
            _decay_(p, group["lr"], group["weight_decay"], divide=True)
    return diag


def momo_adam_update(groups: list[tuple[dict, list[tuple[Tensor, Tensor, dict]]]], gs: dict, loss: Tensor,
                     members: bool = False) -> dict[str, Tensor]:
    """One Momo-Adam step; groups: (hyperparameters, [(param, grad, state)]). Returns the diagnostics."""
    f = loss.detach()
    k = _start(gs, f, groups[0][0]["f_star"], zero=True)
    dot = gam = norm = torch.zeros_like(f)
    for group, items in groups:
        beta1, beta2, eps = group["beta1"], group["beta2"], group["eps"]
        for p, g, st in items:
            if "step" not in st:
                st["step"] = 0
                st["grad_avg"], st["grad_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
                st["grad_dot_w"] = torch.zeros_like(f)
            st["step"] += 1
            d, v, gdw = st["grad_avg"], st["grad_avg_sq"], st["grad_dot_w"]
            _ema_(d, g, beta1)
            _ema_(v, g * g, beta2)
            _ema_(gdw, _dot(p, g, members), beta1)
            precond = _precond(v, beta2, st["step"], eps)
            dot, gam, norm = dot + _dot(p, d, members), gam + gdw, norm + _dot(d, d / precond, members)
    beta1 = groups[-1][0]["beta1"]  # as momo-opt: the loss EMA uses the last group's beta1
    gs["fbar"] = (1 - beta1) * f + beta1 * gs["fbar"]
    diag = {}
    for group, items in groups:
        lr, wd, beta1 = group["lr"], group["weight_decay"], group["beta1"]
        rho = 1 - beta1**k
        tau, t1 = step_size(group, gs, gs["fbar"], dot, gam, norm, rho)
        diag = diag or _diag(tau, t1, lr, rho)
        for p, _, st in items:
            precond = _precond(st["grad_avg_sq"], group["beta2"], k, group["eps"])
            if not group["divide"]:
                _decay_(p, lr, wd, divide=False)
            p.addcdiv_(st["grad_avg"] * per_member(-tau, p), precond)  # momo-opt's op
            if group["divide"]:
                _decay_(p, lr, wd, divide=True)
    return diag


def _precond(v: Tensor, beta2, step: int, eps) -> Tensor:
    return (v / per_member(1 - beta2**step, v)).sqrt().add(per_member(eps, v))


class _MomoBase(torch.optim.Optimizer):
    needs_loss = True
    update = None  # momo_update or momo_adam_update

    def diagnostics(self) -> dict[str, float | Tensor]:
        """Last step's internals (0-d tensors converted by the trial only when it logs)."""
        return dict(getattr(self, "_diag", {}))

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if loss is None:
            raise ValueError(f"{type(self).__name__} needs the batch loss: step(loss=...) or step(closure)")
        groups = [(g, [(p, p.grad, self.state[p]) for p in g["params"] if p.grad is not None])
                  for g in self.param_groups]
        self._diag = type(self).update(groups, self.state[GLOBAL], loss)
        return loss

    @classmethod
    def population_step(cls, state: dict, params: list, grads: list, kinds: list[str], hp: dict, step: int,
                        loss=None) -> dict:
        """The same update on a population (tensors with a member dimension, (K,) hyperparameters)."""
        items = [(p, g, state.setdefault(i, {})) for i, (p, g) in enumerate(zip(params, grads))]
        return cls.update([(hp, items)], state.setdefault("global", {}), loss, members=True)


class Momo(_MomoBase):
    """Momo: model-based momentum SGD with the step size from a truncated model of the loss."""

    update = staticmethod(momo_update)

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.9, weight_decay: float = 0.0,
                 f_star: float = 0.0, bias_correction: bool = False, fstar_online: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, f_star=f_star,
                        bias_correction=bias_correction, fstar_online=fstar_online)
        check_hparams(type(self), "momo", defaults)
        super().__init__(params, defaults)


class MomoAdam(_MomoBase):
    """Momo-Adam: Momo's step size in Adam's preconditioned geometry."""

    update = staticmethod(momo_adam_update)

    def __init__(self, params, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, f_star: float = 0.0, divide: bool = True,
                 fstar_online: bool = False) -> None:
        defaults = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, f_star=f_star,
                        divide=divide, fstar_online=fstar_online)
        check_hparams(type(self), "momo_adam", defaults)
        super().__init__(params, defaults)
