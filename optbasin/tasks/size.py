"""N, the number of parameters of a task's model: the x axis of the trend with model size
(analysis/trend.py).

The task is built from its factory and the parameters a trial recorded, and its model on torch's
meta device (shapes only, no memory: gpt2-small's 124M parameters cost nothing). N counts each
parameter tensor once (``model.parameters()`` skips a tied one: GPT's lm_head is its token
embedding). A task that cannot be built (a factory that is not importable, a build that fails)
has no N: NaN, with the reason.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import torch

from optbasin.catalog import task_factory, values_checked


def parameter_count(factory: str, params: dict[str, Any], import_paths: tuple[str, ...] = ()) -> tuple[float, str]:
    """(N, "") for the model of ``factory(**params)``, or (NaN, why) when it cannot be built."""
    return _count(factory, json.dumps(params, sort_keys=True, default=str), tuple(import_paths))


@lru_cache(maxsize=256)
def _count(factory: str, params: str, import_paths: tuple[str, ...]) -> tuple[float, str]:
    try:
        make = task_factory(factory, list(import_paths))
        with values_checked():  # the values a trial ran with, checked when its sweep was loaded
            task = make(**json.loads(params))
        with torch.device("meta"):
            model = task.build_model(0)
        return float(sum(p.numel() for p in model.parameters())), ""
    except Exception as e:  # a user's task: whatever it raises is an answer (no N), not a crash
        return math.nan, f"its model could not be built ({factory}): {type(e).__name__}: {e}"
