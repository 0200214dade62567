"""Classification of scikit-learn's 8x8 digits (shipped with scikit-learn: no download).

A fixed stratified train/validation split (fixed RNG), inputs standardized with the training
statistics, cross-entropy loss. Two models: an MLP (``digits-mlp``) and a small CNN
(``digits-cnn``). ``evaluate`` is the cross-entropy on the whole validation split.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from optbasin.catalog import check_task_params
from optbasin.errors import DataError
from optbasin.tasks.base import Task
from optbasin.tasks.common import build_seeded, evaluating, shuffled_batches

SPLIT_SEED = 0  # the train/validation split never changes with the trial seed
N_CLASSES = 10


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as (x float64 (n, 64), y int64 (n,)).

    Reads scikit-learn's shipped ``datasets/data/digits.csv.gz`` directly (importing sklearn costs
    about a second per process); falls back to ``sklearn.datasets.load_digits`` if it moved."""
    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            try:
                data = np.loadtxt(path, delimiter=",")
            except (ValueError, OSError, EOFError) as e:  # bad gzip, truncated, not numbers
                raise DataError(f"{path}: malformed digits file: {e}") from None
            if data.ndim != 2 or data.shape[1] != 65:
                raise DataError(f"{path}: malformed digits file: expected 65 columns, got shape {data.shape}")
            return data[:, :64], data[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x.astype(np.float64), y.astype(np.int64)


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) indices with ``val_fraction`` of every class in val (fixed RNG)."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        val.append(rng.permutation(idx)[: int(round(val_fraction * len(idx)))])
    val_idx = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(y)), val_idx), val_idx


@lru_cache(maxsize=4)
def load_split(val_fraction: float = 0.2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_val, y_val): float32 standardized features (n, 64), int64 labels."""
    x, y = _read_digits()
    tr, va = stratified_split(y, val_fraction, SPLIT_SEED)
    mean, std = x[tr].mean(0), x[tr].std(0)
    std[std == 0] = 1.0  # constant border pixels
    as_x = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32))  # noqa: E731
    return as_x(x[tr]), torch.from_numpy(y[tr]), as_x(x[va]), torch.from_numpy(y[va])


def mlp(hidden: int, depth: int, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = 64
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, N_CLASSES))  # the output head (last nn.Linear)
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """(n, 64) -> 1x8x8 -> conv3x3(c) -> conv3x3(2c) -> maxpool 2 -> conv3x3(2c) -> mean pool -> head."""

    def __init__(self, channels: int = 16):
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * c, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.view(-1, 1, 8, 8))
        return self.head(h.mean(dim=(2, 3)))


class DigitsTask(Task):
    """Shared data handling; subclasses give ``_make_model``."""

    def __init__(self, batch_size: int, val_fraction: float):
        self.batch_size, self.val_fraction = int(batch_size), float(val_fraction)

    def _make_model(self) -> nn.Module:
        raise NotImplementedError

    def build_model(self, seed: int) -> nn.Module:
        return build_seeded(seed, self._make_model)

    def train_batches(self, seed: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y, _, _ = load_split(self.val_fraction)
        return shuffled_batches((x, y), self.batch_size, seed, device)

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x), y)

    def evaluate(self, model: nn.Module, device: torch.device) -> float:
        _, _, x, y = load_split(self.val_fraction)
        with evaluating(model):
            return float(F.cross_entropy(model(x.to(device)), y.to(device)))

    def reference_losses(self) -> dict[str, float]:
        """Chance: the uniform prediction over the 10 classes, log(10)."""
        from optbasin.tasks.reference import chance_loss

        return {"ref_loss": chance_loss(N_CLASSES), "floor_loss": float("nan")}

    def accuracy(self, model: nn.Module, device: torch.device) -> float:
        """Validation accuracy (not part of the Task protocol; handy in notebooks and tests)."""
        _, _, x, y = load_split(self.val_fraction)
        with evaluating(model):
            return float((model(x.to(device)).argmax(1) == y.to(device)).float().mean())


class DigitsMLP(DigitsTask):
    name = "digits-mlp"
    default_steps = 500
    head = "auto"  # the last nn.Linear: the projection to the 10 classes

    def __init__(
        self, hidden: int = 128, depth: int = 2, dropout: float = 0.0, batch_size: int = 64, val_fraction: float = 0.2
    ):
        check_task_params(
            type(self),
            self.name,
            dict(hidden=hidden, depth=depth, dropout=dropout, batch_size=batch_size, val_fraction=val_fraction),
        )
        super().__init__(batch_size, val_fraction)
        self.hidden, self.depth, self.dropout = int(hidden), int(depth), float(dropout)

    def _make_model(self) -> nn.Module:
        return mlp(self.hidden, self.depth, self.dropout)


class DigitsCNN(DigitsTask):
    name = "digits-cnn"
    default_steps = 300
    head = "head"

    def __init__(self, channels: int = 16, batch_size: int = 64, val_fraction: float = 0.2):
        check_task_params(
            type(self), self.name, dict(channels=channels, batch_size=batch_size, val_fraction=val_fraction)
        )
        super().__init__(batch_size, val_fraction)
        self.channels = int(channels)

    def _make_model(self) -> nn.Module:
        return SmallCNN(self.channels)


def make_mlp_task(**params) -> DigitsMLP:
    return DigitsMLP(**params)


def make_cnn_task(**params) -> DigitsCNN:
    return DigitsCNN(**params)
