"""Trials into Ray Tune trials: one Ray Tune trial carries a batch of ours (a strided mix of the
sweep) or one population, as a grid point of its config; specs_of reads them back."""

from __future__ import annotations

import math
from typing import Any

from optbasin.sweeps.populations import runs_as_population
from optbasin.training.grouping import populations
from optbasin.training.trial_spec import TrialSpec


def specs_of(config: dict[str, Any]) -> list[TrialSpec]:
    """The trials of a Ray Tune config: full specs, plus hyperparameters a searcher sampled."""
    specs = [TrialSpec.model_validate(d) for d in config["specs"]]
    if config.get("hp"):
        specs = [s.model_copy(update={"hparams": {**s.hparams, **config["hp"]}}) for s in specs]
    return specs


def batch_size(n_trials: int, slots: int, most: int = 16) -> int:
    """Trials per Ray Tune trial: at least 4 batches per concurrent slot (load balance), at most
    ``most`` trials a batch."""
    return max(1, min(most, math.ceil(n_trials / (4 * max(1, slots)))))


def strided_batches(pending: list[TrialSpec], slots: int) -> list[list[TrialSpec]]:
    """Trials cut into batches of ``batch_size`` (strided, so each batch mixes the sweep)."""
    if not pending:
        return []
    n = math.ceil(len(pending) / batch_size(len(pending), slots))
    return [pending[i::n] for i in range(n)]


def batched_space(pending: list[TrialSpec], slots: int) -> dict[str, Any]:
    """A Ray Tune grid whose points are batches of trials, each run one trial at a time."""
    from ray import tune

    return {"specs": tune.grid_search([[t.model_dump() for t in b] for b in strided_batches(pending, slots)])}


def populated_space(pending: list[TrialSpec], size: int, slots: int) -> dict[str, Any]:
    """A Ray Tune grid whose points are populations of at most ``size`` members, then batches of
    the trials no population takes (a group of one, an optimizer without population support)."""
    from ray import tune

    pops = [g for g in populations(pending, size) if runs_as_population(g)]
    taken = {t.trial_id for g in pops for t in g}
    batches = pops + strided_batches([t for t in pending if t.trial_id not in taken], slots)
    return {"specs": tune.grid_search([[t.model_dump() for t in b] for b in batches]), "population": size}
