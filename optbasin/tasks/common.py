"""Small helpers shared by the built-in tasks: seeding and endless minibatch streams.

Determinism rule: a task never touches the global RNGs. Model init runs under a forked torch RNG
seeded from the trial seed; data order comes from a private torch.Generator seeded from the trial
seed and a stream name, so init and data order are independent streams of one seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for the named stream of a trial seed (stable across runs and platforms)."""
    return (int(seed) * 0x9E3779B97F4A7C15 + zlib.crc32(stream.encode())) % (2**63 - 1)


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU torch.Generator for the named stream of ``seed``."""
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def build_seeded(seed: int, make: Callable[[], nn.Module]) -> nn.Module:
    """Call ``make()`` with torch's global RNG seeded from ``seed``; the caller's RNG state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        return make()


def shuffled_batches(
    tensors: tuple[torch.Tensor, ...], batch_size: int, seed: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless minibatches of ``tensors`` (same first dimension): a fresh permutation per epoch,
    drawn from the trial seed; the data is moved to ``device`` once. Short last batches are
    dropped so every step sees ``batch_size`` examples."""
    data = tuple(t.to(device) for t in tensors)
    n = data[0].shape[0]
    bs = min(batch_size, n)
    gen = generator(seed, "data")
    while True:
        perm = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n - bs + 1, bs):
            idx = perm[i : i + bs]
            yield tuple(t[idx] for t in data)


class evaluating:
    """Context manager: ``model.eval()`` and no grad inside, the previous train/eval mode after."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was_training)
        self.no_grad.__exit__(*exc)
        return False


def quick_train(
    task, make_optimizer: Callable, steps: int, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[float, float, list[float]]:
    """A bare trial loop for tests, notebooks and timing (the real trial lives in optbasin.training):
    returns (val loss at init, val loss at the end, training losses)."""
    device = torch.device(device)
    model = task.build_model(seed).to(device)
    opt = make_optimizer(model.parameters())
    first = task.evaluate(model, device)
    batches, losses = task.train_batches(seed, device), []
    for _ in range(steps):
        loss = task.loss(model, next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return first, task.evaluate(model, device), losses
