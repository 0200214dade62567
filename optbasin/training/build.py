"""What every run builds first, whichever engine trains it: seeded RNGs, the device, the task."""

from __future__ import annotations

import random

import numpy as np
import torch

from optbasin.catalog import task_factory, values_checked
from optbasin.tasks.base import Task
from optbasin.training.trial_spec import TrialSpec


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(spec: TrialSpec) -> torch.device:
    return torch.device("cuda") if spec.gpus > 0 and torch.cuda.is_available() else torch.device("cpu")


def build_task(spec: TrialSpec) -> Task:
    with values_checked():  # checked against the entry in use when the sweep was loaded
        task = task_factory(spec.task_factory, spec.import_paths)(**spec.task_params)
    if not isinstance(task, Task):
        raise TypeError(f"task factory {spec.task_factory!r} returned {type(task).__name__}, not an optbasin Task")
    return task
