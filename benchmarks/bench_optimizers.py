"""Time of one optimizer step, per built-in optimizer: a single model (the class's ``step``) and a
population of K members (``population_step``), on an MLP of digits-mlp's shape (64-128-128-10),
fp32, CPU, one thread. Median of the repeats, in microseconds.

    .venv/bin/python benchmarks/bench_optimizers.py [--k 8] [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from optbasin.catalog import builtin, optimizer_class
from optbasin.optimizers import build
from optbasin.optimizers.split import param_roles


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def median_us(fn, repeats: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def single(name: str, repeats: int) -> float:
    model = mlp()
    opt = build(name, model)
    loss = torch.tensor(1.0)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-2
    return median_us(lambda: opt.step(loss=loss) if getattr(opt, "needs_loss", False) else opt.step(), repeats)


def population(name: str, k: int, repeats: int) -> float:
    d = builtin().optimizer(name)
    cls = optimizer_class(d.cls)
    model = mlp()
    roles = param_roles(model)
    own = dict(model.named_parameters())
    kinds = [r.role for r in roles]
    params = [own[r.name].detach().unsqueeze(0).repeat(k, *([1] * own[r.name].ndim)) for r in roles]
    grads = [torch.randn_like(p) * 1e-2 for p in params]
    hp = {k: h.default for k, h in d.hyperparameters.items()}
    hp["lr"] = torch.linspace(0.5, 1.0, k, dtype=torch.float64) * hp["lr"]
    state: dict = {}
    steps = iter(range(1, 10**9))
    loss = torch.ones(k)
    return median_us(lambda: cls.population_step(state, params, grads, kinds, hp, next(steps), loss=loss), repeats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{'optimizer':<16}{'single (us)':>14}{f'population K={args.k} (us)':>26}")
    for name in sorted(builtin().optimizers):
        cls = optimizer_class(builtin().optimizer(name).cls)
        pop = population(name, args.k, args.repeats) if hasattr(cls, "population_step") else float("nan")
        print(f"{name:<16}{single(name, args.repeats):>14.0f}{pop:>26.0f}")


if __name__ == "__main__":
    main()
