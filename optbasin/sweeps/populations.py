"""How many members a population gets, and the hook that runs a batch of trials as populations.

Scheduling, not training: it weighs the sweep's pending trials, its concurrent slots and the
memory a trial's resources grant; the engine that trains a population is training/population.py.

``population:`` in a sweep file: ``auto`` (the default), a number K, or 1 (every trial alone).
``auto`` is 1 for a task that is not built in (its loss may do what vmap cannot), 1 on a CPU for
a model of more than CPU_MAX_PARAMS parameters (there a population saves per-step Python and
dispatch overhead, not arithmetic: measured with ``optbasin bench --only population``, quadratic
(2k parameters) 5-8x, digits-mlp 2x, gpt-tiny (0.4M) 0.8x, i.e. slower), and otherwise
K = min(64, the members that fit in a quarter of the memory the trial's resources grant, the
pending trials per concurrent slot), so that a sweep still spreads over every slot.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

import torch

from optbasin.catalog import optimizer_class
from optbasin.training.build import build_task
from optbasin.training.grouping import populations
from optbasin.training.population import run_population, supports_population
from optbasin.training.trial_spec import TrialSpec

MOST = 64
MEMORY_SHARE = 0.25
BUFFERS_PER_PARAM = 8  # parameter, gradient, up to 3 optimizer buffers, temporaries of the update
CPU_MAX_PARAMS = 100_000  # above it a CPU population is arithmetic-bound and gains nothing (docstring)

Report = Callable[[int, list[dict], dict[str, Any]], None]


def is_builtin(spec: TrialSpec) -> bool:
    return spec.task_factory.startswith("optbasin.") and not spec.import_paths


def member_bytes(spec: TrialSpec) -> tuple[int, int]:
    """(parameters, bytes) of one member: the bytes are its parameters' times BUFFERS_PER_PARAM
    (stacked optimizer state included)."""
    params = list(build_task(spec).build_model(spec.seed).parameters())
    return sum(p.numel() for p in params), BUFFERS_PER_PARAM * sum(p.numel() * p.element_size() for p in params)


def on_gpu(spec: TrialSpec) -> bool:
    return spec.gpus > 0 and torch.cuda.is_available()


def granted_memory(spec: TrialSpec) -> int:
    """Memory the trial's resources grant: its share of one GPU, or its share of the machine's RAM."""
    if on_gpu(spec):
        return int(torch.cuda.get_device_properties(0).total_memory * min(1.0, spec.gpus))
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(ram * spec.cpus / (os.cpu_count() or 1))


def population_size(setting: str | int, pending: list[TrialSpec], slots: int) -> int:
    """Members per population for ``pending`` trials run on ``slots`` concurrent slots."""
    if setting != "auto":
        return int(setting)
    first = pending[0]
    if not is_builtin(first):
        return 1
    n_params, nbytes = member_bytes(first)
    if first.gpus == 0 and n_params > CPU_MAX_PARAMS:  # the trial's request, not the driver's devices
        return 1
    fits = int(MEMORY_SHARE * granted_memory(first) // max(1, nbytes))
    return max(1, min(MOST, fits, math.ceil(len(pending) / max(1, slots))))


def runs_as_population(group: list[TrialSpec]) -> bool:
    """Whether a group of trials (one ``populations`` cut) trains as one population: two members
    or more, and an optimizer that declares population support. The worker and the driver (which
    must know, when a worker dies, whether all its unfinished trials were training) both ask here."""
    return len(group) >= 2 and supports_population(optimizer_class(group[0].optimizer_class, group[0].import_paths))


def run_populations(specs: list[TrialSpec], size: int, report: Report) -> set[int]:
    """Run the populations among ``specs`` (members of one group, at most ``size`` each) and
    ``report(index, rows, summary)`` each member as it ends; return the indices reported.

    Trials left out (a population of one, an optimizer without ``population_step``, a population
    that raised) are for the caller to run one at a time, as before."""
    finished: set[int] = set()
    if size <= 1:
        return finished
    index = {id(s): i for i, s in enumerate(specs)}
    for group in populations(specs, size):
        if not runs_as_population(group):
            continue

        def done(j: int, rows: list[dict], summary: dict[str, Any], group=group) -> None:
            i = index[id(group[j])]
            finished.add(i)
            report(i, rows, summary)

        try:
            run_population(group, done)
        except Exception as e:  # e.g. vmap refuses a random op: the unfinished members run alone
            print(
                f"optbasin: population of {len(group)} ({group[0].task}, {group[0].optimizer}) fell back to "
                f"one trial at a time: {type(e).__name__}: {e}",
                file=sys.stderr,
            )
    return finished
