"""The Task protocol: what a trial needs from a task.

A task is built by its catalog factory (``module:function``) from its YAML parameters. It gives:
- ``build_model(seed)``: a fresh nn.Module, initialized deterministically from the seed;
- ``train_batches(seed, device)``: an endless, deterministic stream of batches (data order from
  the seed) already on ``device``;
- ``loss(model, batch)``: the scalar training loss of a batch;
- ``evaluate(model, device)``: the held-out loss (validation split), a float;
- ``default_steps`` / ``batch_size``: its default budget and batch size;
- ``head``: module name(s) of the output head for the parameter split ("auto": last nn.Linear);
- ``reference_losses()``: {"ref_loss": a trivial predictor's loss, "floor_loss": a known floor},
  NaN where the task declares none (optbasin/tasks/reference.py; the analysis uses l0 then);
- ``check_data()``: raise DataError if a data file is missing or malformed (validation calls it
  before a sweep runs, so bad data is refused up front rather than failing every trial).
Loss at initialization is ``evaluate`` of the freshly built model (the trial records it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn


class Task(ABC):
    name: str = "task"
    default_steps: int = 200
    batch_size: int = 64
    head: str | list[str] | None = "auto"

    @abstractmethod
    def build_model(self, seed: int) -> nn.Module: ...

    @abstractmethod
    def train_batches(self, seed: int, device: torch.device) -> Iterator[Any]: ...

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor: ...

    @abstractmethod
    def evaluate(self, model: nn.Module, device: torch.device) -> float: ...

    def reference_losses(self) -> dict[str, float]:
        """The task's reference loss (a trivial predictor's) and known floor; NaN: not declared."""
        return {"ref_loss": float("nan"), "floor_loss": float("nan")}

    def check_data(self) -> None:  # noqa: B027 (an optional hook: a task with no data files keeps it)
        """Raise optbasin.errors.DataError naming the file if the task's data cannot be used."""
