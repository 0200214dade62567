"""A user task for optbasin: fit y = sin(freq * x) + noise with a small MLP.

optbasin imports this module through the ``factory:`` line of sine.yaml (``sine_task:make_task``);
the directory holding the YAML is put on the import path, so no package install is needed.
A task implements the four methods of optbasin.tasks.base.Task (and may declare its reference
losses); see that file for the contract.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from optbasin.tasks.base import Task


class SineTask(Task):
    name = "sine"
    default_steps = 400
    head = "auto"  # the last nn.Linear (here the 1-unit output) is the head: "other" in the split

    def __init__(self, hidden: int = 64, freq: float = 3.0, noise: float = 0.1, batch_size: int = 32):
        self.hidden, self.freq, self.noise, self.batch_size = hidden, freq, noise, batch_size
        # A fixed validation set (its own seed, never the trial's): the same for every trial.
        x = torch.linspace(-math.pi, math.pi, 512).unsqueeze(1)
        self.val = (x, torch.sin(self.freq * x))

    def build_model(self, seed: int) -> nn.Module:
        with torch.random.fork_rng(devices=[]):  # same seed -> same init; global RNG untouched
            torch.manual_seed(seed)
            return nn.Sequential(
                nn.Linear(1, self.hidden),
                nn.Tanh(),
                nn.Linear(self.hidden, self.hidden),
                nn.Tanh(),
                nn.Linear(self.hidden, 1),
            )

    def train_batches(self, seed: int, device: torch.device):
        gen = torch.Generator().manual_seed(seed + 12345)  # data stream: its own generator
        while True:
            x = (torch.rand(self.batch_size, 1, generator=gen) * 2 - 1) * math.pi
            y = torch.sin(self.freq * x) + self.noise * torch.randn(self.batch_size, 1, generator=gen)
            yield x.to(device), y.to(device)

    def loss(self, model: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    def evaluate(self, model: nn.Module, device: torch.device) -> float:
        x, y = self.val
        with torch.no_grad():
            return float(nn.functional.mse_loss(model(x.to(device)), y.to(device)))

    def reference_losses(self) -> dict[str, float]:
        """Optional: the loss of a trivial predictor (here: always 0, the mean of sin) is the
        reference a basin is measured against, l <= l* + eps (l_ref - l*); the validation targets
        are noiseless, so the floor is 0. Without this method the analysis uses l0 and no floor."""
        _, y = self.val
        return {"ref_loss": float(y.square().mean()), "floor_loss": 0.0}


def make_task(**params) -> SineTask:
    """The factory the YAML names: called with the entry's params (defaults merged with the sweep's)."""
    return SineTask(**params)
