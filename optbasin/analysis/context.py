"""Context: what a metric's compute function (specs.REGISTRY) reads for the rows of a count
matrix; robustness.py builds it, specs.py computes on it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optbasin.analysis.grid import Group
from optbasin.analysis.settings import AnalysisSettings


@dataclass
class Context:
    """What the compute functions of specs.REGISTRY read, one entry per row of ``counts``."""

    g: Group
    settings: AnalysisSettings
    counts: np.ndarray  # (u, m)
    u: int
    med: np.ndarray  # (u, P) median loss per point over the drawn seeds
    best: np.ndarray  # (u,) best point
    lstar: np.ndarray  # (u,)
    task_best: np.ndarray  # (u,) lowest l* of every optimizer on the task, same rows
    curve: np.ndarray  # (u, n) loss along the lr slice through the best point (+inf padding)
    x: np.ndarray  # (u, n) log10 lr along that slice (NaN padding)
    best_log_lr: np.ndarray  # (u,)
    w: np.ndarray  # (u, N) weight of each trial
    n_trials: np.ndarray  # (u,) trials drawn
    v: np.ndarray  # sorted trial losses
    surv: np.ndarray  # survival weights (metrics.survival)
    l0: float
    all_seeds_best_log_lr: float = np.nan  # log10 lr of the best point over every seed
    cache: dict = field(default_factory=dict)  # results that several metrics share
