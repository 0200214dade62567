"""Which trials can share a population, and how a sweep's trials are cut into populations.

Members of one population share everything but the values of their numeric (float)
hyperparameters: task and its parameters, optimizer class, every non-float hyperparameter
(booleans, strings, integers such as ns_steps), seed, budget, schedule, divergence threshold,
parameter split and resources. Those floats become (K,) tensors in the population driver.
"""

from __future__ import annotations

import json
from collections import defaultdict

from optbasin.training.trial_spec import TrialSpec


def is_member_value(v: object) -> bool:
    """A hyperparameter value that may differ between members: a float (not a bool)."""
    return isinstance(v, float)


def group_key(spec: TrialSpec) -> str:
    """Equal keys <=> the two trials may be members of one population."""
    fixed = spec.model_dump(exclude={"hparams", "swept", "source", "sweep", "task", "optimizer", "round", "added_for"})
    fixed["hparams"] = {k: v for k, v in spec.hparams.items() if not is_member_value(v)}
    fixed["member_names"] = sorted(k for k, v in spec.hparams.items() if is_member_value(v))
    return json.dumps(fixed, sort_keys=True, default=str)


def populations(specs: list[TrialSpec], size: int) -> list[list[TrialSpec]]:
    """``specs`` cut into populations of at most ``size`` members (input order kept within a group)."""
    groups: dict[str, list[TrialSpec]] = defaultdict(list)
    for s in specs:
        groups[group_key(s)].append(s)
    size = max(1, int(size))
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]
