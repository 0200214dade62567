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

from optbasin.optimizers.hybrid import GLOBAL
from optbasin.catalog import check_hparams


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return torch.sum(a * b)  # the same reduction as momo-opt (torch.dot sums in another order)


class _MomoBase(torch.optim.Optimizer):
    needs_loss = True

    def _global(self) -> dict:
        return self.state[GLOBAL]

    def diagnostics(self) -> dict[str, float | Tensor]:
        """Last step's internals (0-d tensors converted by the trial only when it logs)."""
        return dict(getattr(self, "_diag", {}))

    def _loss(self, closure, loss) -> Tensor:
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if loss is None:
            raise ValueError(f"{type(self).__name__} needs the batch loss: step(loss=...) or step(closure)")
        return loss

    def _params(self) -> list[tuple[dict, Tensor]]:
        return [(g, p) for g in self.param_groups for p in g["params"] if p.grad is not None]

    def _step_size(self, group: dict, gs: dict, fbar: Tensor, dot: Tensor, gam: Tensor, norm: Tensor,
                   rho: float) -> Tensor:
        """tau of one group; updates the online f_star estimate when fstar_online."""
        lr, wd = group["lr"], group["weight_decay"]
        c = 1 + lr * wd
        if group["fstar_online"]:
            cap = c * fbar + dot - c * gam
            lb = gs["f_star"]
            lowered = torch.maximum(cap / (2 * c * rho), torch.full_like(lb, group["f_star"]))
            gs["f_star"] = torch.where(cap < c * rho * lb, lowered, lb)
        lb = gs["f_star"]
        t1 = (c * (fbar - rho * lb) + dot - c * gam).clamp_min(0) / norm
        tau = t1.clamp(max=lr / rho)
        if group["fstar_online"]:
            h = fbar + dot - gam
            gs["f_star"] = ((h - 0.5 * tau * norm) / rho).clamp_min(group["f_star"])
        if group is self.param_groups[0]:
            self._diag = {"tau_over_lr": tau / lr if lr > 0 else torch.ones(()), "truncated": (t1 < lr / rho).float()}
        return tau


class Momo(_MomoBase):
    """Momo: model-based momentum SGD with the step size from a truncated model of the loss."""

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.9, weight_decay: float = 0.0,
                 f_star: float = 0.0, bias_correction: bool = False, fstar_online: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, f_star=f_star,
                        bias_correction=bias_correction, fstar_online=fstar_online)
        check_hparams(type(self), "momo", defaults)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        loss = self._loss(closure, loss)
        cfg, gs = self.param_groups[0], self._global()
        beta, bc = cfg["momentum"], cfg["bias_correction"]
        f = loss.detach()
        gs["k"] = k = gs.get("k", 0) + 1
        if k == 1:
            gs["fbar"] = torch.zeros_like(f) if bc else f.clone()
            gs["f_star"] = torch.full_like(f, cfg["f_star"])
        gs["fbar"] = beta * gs["fbar"] + (1 - beta) * f
        rho = 1 - beta**k if bc else 1.0

        dot = gam = norm = torch.zeros_like(f)
        params = self._params()
        for _, p in params:
            st, g = self.state[p], p.grad
            g_dot_x = _dot(p, g)
            if "grad_avg" not in st:
                st["grad_avg"] = torch.zeros_like(p) if bc else g.clone()
                st["grad_dot_w"] = torch.zeros_like(g_dot_x) if bc else g_dot_x.clone()
            d, gdw = st["grad_avg"], st["grad_dot_w"]
            d.mul_(beta).add_(g, alpha=1 - beta)
            gdw.mul_(beta).add_(g_dot_x, alpha=1 - beta)
            dot, gam, norm = dot + _dot(p, d), gam + gdw, norm + _dot(d, d)

        for group in self.param_groups:
            tau = self._step_size(group, gs, gs["fbar"], dot, gam, norm, rho)
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.addcmul_(self.state[p]["grad_avg"], -tau)  # = momo-opt rounding
                if group["weight_decay"] > 0:
                    p.div_(1 + group["lr"] * group["weight_decay"])
        return loss


class MomoAdam(_MomoBase):
    """Momo-Adam: Momo's step size in Adam's preconditioned geometry."""

    def __init__(self, params, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, f_star: float = 0.0, divide: bool = True,
                 fstar_online: bool = False) -> None:
        defaults = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, f_star=f_star,
                        divide=divide, fstar_online=fstar_online)
        check_hparams(type(self), "momo_adam", defaults)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None, loss: Tensor | None = None):
        loss = self._loss(closure, loss)
        gs = self._global()
        f = loss.detach()
        gs["k"] = k = gs.get("k", 0) + 1
        if k == 1:
            gs["fbar"] = torch.zeros_like(f)
            gs["f_star"] = torch.full_like(f, self.param_groups[0]["f_star"])

        dot = gam = norm = torch.zeros_like(f)
        for group in self.param_groups:
            beta1, beta2, eps = group["beta1"], group["beta2"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st, g = self.state[p], p.grad
                if "step" not in st:
                    st["step"] = 0
                    st["grad_avg"], st["grad_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
                    st["grad_dot_w"] = torch.zeros_like(f)
                st["step"] += 1
                d, v, gdw = st["grad_avg"], st["grad_avg_sq"], st["grad_dot_w"]
                d.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                gdw.mul_(beta1).add_(_dot(p, g), alpha=1 - beta1)
                precond = (v / (1 - beta2 ** st["step"])).sqrt().add(eps)
                dot, gam, norm = dot + _dot(p, d), gam + gdw, norm + torch.sum(d * (d / precond))
        beta1 = self.param_groups[-1]["beta1"]  # as momo-opt: the loss EMA uses the last group's beta1
        gs["fbar"] = (1 - beta1) * f + beta1 * gs["fbar"]

        for group in self.param_groups:
            lr, wd, beta1, beta2 = group["lr"], group["weight_decay"], group["beta1"], group["beta2"]
            tau = self._step_size(group, gs, gs["fbar"], dot, gam, norm, 1 - beta1**k)
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                precond = (st["grad_avg_sq"] / (1 - beta2**k)).sqrt().add(group["eps"])
                if wd > 0 and not group["divide"]:
                    p.mul_(1 - wd * lr)
                p.addcdiv_(st["grad_avg"] * -tau, precond)  # = momo-opt rounding
                if wd > 0 and group["divide"]:
                    p.div_(1 + wd * lr)
        return loss
