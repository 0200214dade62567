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
are summed over all groups, which share one lr and weight decay (momo-opt allows one per group;
optbasin's trials set one). Hyperparameters: optbasin/optimizers/catalog/momo.yaml, momo_adam.yaml.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbasin.optimizers.declared import declared
from optbasin.optimizers.functional import dot, ema_, ema_or_start_
from optbasin.optimizers.shell import RuleOptimizer


def step_size(hp: dict, gs: dict, fbar: Tensor, dot: Tensor, gam: Tensor, norm: Tensor, rho) -> tuple[Tensor, Tensor]:
    """(tau, the uncapped step t1); updates the online f_star estimate when fstar_online."""
    lr, c = hp["lr"], 1 + hp["lr"] * hp["weight_decay"]
    lb = gs["f_star"]
    if hp["fstar_online"]:
        cap = c * fbar + dot - c * gam
        lb.copy_(torch.where(cap < c * rho * lb, (cap / (2 * c * rho)).clamp_min(hp["f_star"]), lb))
    t1 = (c * (fbar - rho * lb) + dot - c * gam).clamp_min(0) / norm
    tau = t1.clamp(max=lr / rho)
    if hp["fstar_online"]:
        lb.copy_(((fbar + dot - gam - 0.5 * tau * norm) / rho).clamp_min(hp["f_star"]))
    return tau, t1


def momo_rule(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    gs: dict,
    hp: dict,
    kinds: list[str],
    t: int,
    loss: Tensor,
) -> dict[str, Tensor]:
    """One Momo step (the module docstring); returns the diagnostics."""
    beta, bc, lr, wd = hp["momentum"], hp["bias_correction"], hp["lr"], hp["weight_decay"]
    start = t == 1 and not bc  # without bias correction the EMAs start at their first value, else at 0
    rho = 1 - beta**t if bc else 1.0
    _start_f_star(gs, hp, t)
    ema_or_start_(gs["fbar"], loss.detach(), beta, start)
    for p, g, st in zip(params, grads, states):
        ema_or_start_(st["grad_dot_w"], dot(p, g), beta, start)
        ema_or_start_(st["grad_avg"], g, beta, start)
    d = [st["grad_avg"] for st in states]
    tau, t1 = step_size(
        hp,
        gs,
        gs["fbar"],
        sum(map(dot, params, d)),
        sum(st["grad_dot_w"] for st in states),
        sum(dot(x, x) for x in d),
        rho,
    )
    for p, x in zip(params, d):
        p.sub_(tau * x).div_(1 + lr * wd)
    return {"tau_over_lr": tau / lr, "truncated": (t1 < lr / rho).float()}


def momo_adam_rule(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    gs: dict,
    hp: dict,
    kinds: list[str],
    t: int,
    loss: Tensor,
) -> dict[str, Tensor]:
    """One Momo-Adam step (the module docstring); returns the diagnostics."""
    beta1, beta2, lr, wd = hp["beta1"], hp["beta2"], hp["lr"], hp["weight_decay"]
    rho = 1 - beta1**t
    _start_f_star(gs, hp, t)
    ema_(gs["fbar"], loss.detach(), beta1)
    for p, g, st in zip(params, grads, states):
        ema_(st["grad_dot_w"], dot(p, g), beta1)
        ema_(st["grad_avg"], g, beta1)
        ema_(st["grad_avg_sq"], g * g, beta2)
    d = [st["grad_avg"] for st in states]
    D = [(st["grad_avg_sq"] / (1 - beta2**t)).sqrt() + hp["eps"] for st in states]
    tau, t1 = step_size(
        hp,
        gs,
        gs["fbar"],
        sum(map(dot, params, d)),
        sum(st["grad_dot_w"] for st in states),
        sum(dot(x, x / y) for x, y in zip(d, D)),
        rho,
    )
    for p, x, y in zip(params, d, D):
        if hp["divide"]:
            p.sub_(tau * x / y).div_(1 + lr * wd)
        else:
            p.mul_(1 - lr * wd).sub_(tau * x / y)
    return {"tau_over_lr": tau / lr, "truncated": (t1 < lr / rho).float()}


def _start_f_star(gs: dict, hp: dict, t: int) -> None:
    """The f_star estimate starts at the hyperparameter f_star."""
    if t == 1:
        gs["f_star"].fill_(hp["f_star"])


class _MomoBase(RuleOptimizer):
    needs_loss = True
    whole_model = True

    @staticmethod
    def global_state_of(p: Tensor) -> dict[str, Tensor]:
        return {"fbar": torch.zeros_like(p.sum()), "f_star": torch.zeros_like(p.sum())}


@declared("momo")
class Momo(_MomoBase):
    """Momo: model-based momentum SGD with the step size from a truncated model of the loss."""

    rule = staticmethod(momo_rule)

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        return {"grad_avg": torch.zeros_like(p), "grad_dot_w": torch.zeros_like(p.sum())}


@declared("momo_adam")
class MomoAdam(_MomoBase):
    """Momo-Adam: Momo's step size in Adam's preconditioned geometry."""

    rule = staticmethod(momo_adam_rule)

    @staticmethod
    def param_state(p: Tensor, kind: str) -> dict[str, Tensor]:
        return {
            "grad_avg": torch.zeros_like(p),
            "grad_avg_sq": torch.zeros_like(p),
            "grad_dot_w": torch.zeros_like(p.sum()),
        }
