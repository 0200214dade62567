"""A matrix-parameter least-squares problem with a controllable Hessian and gradient noise.

The model is one matrix W (d_out x d_in). Inputs x ~ N(0, Sigma) with Sigma = Q diag(lam) Q^T,
lam log-spaced with max/min = ``cond`` (normalized to mean 1; Q a fixed random rotation, or the
identity with ``rotate: false``). The prediction is E(W) x, where E is a fixed linear map that
sets the Hessian structure (vec by rows, loss = mean squared error over outputs):

- ``shared``: E(W) = W. Hessian = I (x) Sigma: block-diagonal by output neuron, all blocks equal.
- ``block``:  E(W) = W * S (elementwise), S a fixed positive matrix with log-uniform entries of
  spread ``spread``: each output row has its own input scaling, so the Hessian is block-diagonal
  by neuron with blocks diag(S_i) Sigma diag(S_i) that differ per neuron (NAMO-D's setting).
- ``dense``:  E(W) = M W, M a fixed d_out x d_out matrix with condition number ``spread``.
  Hessian = M^T M (x) Sigma couples the neurons (no block structure).

Targets y = E(W*) x + sigma * eps, W* a fixed ground truth; the per-output noise std sigma_i is
``noise`` times a factor log-spaced with spread ``noise_spread`` (1: the same for every neuron).
Gradient noise is set by ``noise`` and ``batch_size``. The problem instance (Sigma, S, M, W*,
sigma) comes from ``problem_seed``; the trial seed only sets the init of W and the samples.

Training loss: minibatch MSE. ``evaluate``: the exact population MSE (same scale as the training
loss, which the trial's divergence test compares to the initial evaluation), or with ``excess``
that minus the noise floor (the excess risk: 0 at the optimum; log-scale friendly, but then the
divergence threshold compares train loss, noise included, with a noise-free initial value).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from optbasin.catalog import check_task_params
from optbasin.tasks.base import Task
from optbasin.tasks.common import build_seeded, generator


def _log_spaced(n: int, ratio: float) -> torch.Tensor:
    """n values from 1 down to 1/ratio, evenly spaced in log."""
    if n == 1:
        return torch.ones(1, dtype=torch.float64)
    return torch.logspace(0.0, -math.log10(ratio), n, dtype=torch.float64)


def _rotation(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # Haar-distributed


class MatrixModel(nn.Module):
    """y = E(W) x with E(W) = mix @ (W * scale): one trainable matrix ``weight`` (d_out x d_in);
    ``scale`` and ``mix`` are fixed buffers that shape the Hessian."""

    def __init__(self, weight: torch.Tensor, scale: torch.Tensor, mix: torch.Tensor | None):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.register_buffer("scale", scale)
        self.register_buffer("mix", mix)

    def effective(self) -> torch.Tensor:
        e = self.weight * self.scale
        return e if self.mix is None else self.mix @ e

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.effective().T


class QuadraticTask(Task):
    name = "quadratic"
    default_steps = 2000
    head = None  # the only matrix is the model itself: nothing is an output head

    def __init__(
        self,
        d_in: int = 64,
        d_out: int = 32,
        cond: float = 100.0,
        hessian: str = "block",
        spread: float = 10.0,
        rotate: bool = True,
        noise: float = 0.5,
        noise_spread: float = 1.0,
        batch_size: int = 16,
        init_scale: float = 1.0,
        excess: bool = False,
        problem_seed: int = 0,
    ):
        check_task_params(
            type(self),
            self.name,
            dict(
                d_in=d_in,
                d_out=d_out,
                cond=cond,
                hessian=hessian,
                spread=spread,
                rotate=rotate,
                noise=noise,
                noise_spread=noise_spread,
                batch_size=batch_size,
                init_scale=init_scale,
                excess=excess,
                problem_seed=problem_seed,
            ),
        )
        self.d_in, self.d_out, self.hessian = int(d_in), int(d_out), hessian
        self.batch_size = int(batch_size)
        self.init_scale, self.excess = float(init_scale), bool(excess)

        gen = generator(problem_seed, "quadratic-problem")
        lam = _log_spaced(self.d_in, cond)
        lam = lam / lam.mean()
        q = _rotation(self.d_in, gen) if rotate else torch.eye(self.d_in, dtype=torch.float64)
        self.sqrt_cov = q * lam.sqrt()  # x = z @ sqrt_cov.T has covariance Q diag(lam) Q^T

        scale = torch.ones(self.d_out, self.d_in, dtype=torch.float64)
        mix = None
        if hessian == "block":
            u = torch.rand(self.d_out, self.d_in, generator=gen, dtype=torch.float64)
            scale = torch.exp((u - 0.5) * math.log(spread))
            scale = scale / scale.square().mean().sqrt()
        elif hessian == "dense":
            sv = _log_spaced(self.d_out, spread)
            mix = _rotation(self.d_out, gen) * sv @ _rotation(self.d_out, gen).T
            mix = mix / mix.square().sum(1).mean().sqrt()  # mean squared row norm 1
        w_star = torch.randn(self.d_out, self.d_in, generator=gen, dtype=torch.float64) / math.sqrt(self.d_in)
        factors = _log_spaced(self.d_out, noise_spread)[torch.randperm(self.d_out, generator=gen)]
        self.noise_std = (noise * factors / factors.square().mean().sqrt()).float()
        self.noise_floor = float(self.noise_std.double().square().mean())

        self.scale = scale.float()
        self.mix = None if mix is None else mix.float()
        self.target = MatrixModel(w_star.float(), self.scale, self.mix).effective().detach()
        self.sqrt_cov = self.sqrt_cov.float()

    def build_model(self, seed: int) -> nn.Module:
        std = self.init_scale / math.sqrt(self.d_in)
        return build_seeded(
            seed,
            lambda: MatrixModel(
                torch.randn(self.d_out, self.d_in) * std,
                self.scale.clone(),
                None if self.mix is None else self.mix.clone(),
            ),
        )

    def train_batches(self, seed: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = generator(seed, "data")
        sqrt_cov_t, target_t = self.sqrt_cov.T.to(device), self.target.T.to(device)
        noise_std = self.noise_std.to(device)
        while True:
            z = torch.randn(self.batch_size, self.d_in, generator=gen).to(device)
            eps = torch.randn(self.batch_size, self.d_out, generator=gen).to(device)
            x = z @ sqrt_cov_t
            yield x, x @ target_t + eps * noise_std

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y)

    def excess_loss(self, model: MatrixModel) -> float:
        """Exact population MSE minus the noise floor: ||(E(W) - E(W*)) Sigma^(1/2)||_F^2 / d_out."""
        with torch.no_grad():
            diff = (model.effective().double().cpu() - self.target.double()) @ self.sqrt_cov.double()
            return float(diff.square().sum()) / self.d_out

    def reference_losses(self) -> dict[str, float]:
        """Reference: l0 (NaN here: the analysis takes each trial's initial loss); floor: the noise
        floor, the exact minimum of the evaluated loss (0 when it reports the excess loss)."""
        return {"ref_loss": float("nan"), "floor_loss": 0.0 if self.excess else self.noise_floor}

    def evaluate(self, model: nn.Module, device: torch.device) -> float:
        value = self.excess_loss(model)
        return value if self.excess else value + self.noise_floor


def make_task(**params) -> QuadraticTask:
    return QuadraticTask(**params)
