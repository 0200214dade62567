"""The function Ray Tune runs in a worker process: a batch of trials (or one population), each
reported to the driver as it ends, under the trials' time limits."""

from __future__ import annotations

import json
import math
import os
import platform
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from optbasin.sweeps.batching import specs_of
from optbasin.sweeps.populations import run_populations
from optbasin.training.loop import FAILED
from optbasin.training.single import run_trial

TIMEOUT_EXIT = 124  # exit status of a worker that ended itself because its trial ran over time


def tune_trainable(config: dict[str, Any]) -> None:
    """The function Ray Tune runs in a worker: a batch of trials, one report per trial as it ends.

    A Ray Tune trial costs about 0.1-0.2 s of scheduling on top of its work, as much as a whole
    small trial; so short trials travel in batches (see ``batch_size``). Each of our trials is
    still reported, and committed by the driver, the moment it ends.
    A Python exception (out-of-memory included) is retried here, in the same process, up to
    ``retries`` times, then reported as a failed trial: the worker stays alive for the next
    trial. An attempt over ``spec.timeout_s`` ends this process; a worker that dies outright
    is handled by the driver (see the module doc).
    With ``population`` > 1 in the config, the batch is one population (optbasin/training/population.py):
    its members train together, each reported as it ends, under one deadline, the sum of their
    time limits; members no population took (an optimizer without population support) run one
    at a time, as above.
    """
    from ray import tune

    retries = int(config.get("retries", 0))
    specs = specs_of(config)

    def report(index: int, rows: list[dict], summary: dict[str, Any], started: float) -> None:
        summary.update(placement(), started_at=started, finished_at=time.time())
        tune.report({"trial": index, "rows": rows, "summary": summary, "loss": objective(summary)})

    t_pop = time.time()
    limits = [s.timeout_s for s in specs]
    together = int(config.get("population", 1)) > 1
    with deadline(None if None in limits or not together else sum(limits)):
        in_populations = run_populations(
            specs, int(config.get("population", 1)), lambda i, rows, summary: report(i, rows, summary, t_pop)
        )
    for index, spec in enumerate(specs):
        if index in in_populations:
            continue
        started = time.time()
        for attempt in range(retries + 1):
            rows: list[dict] = []
            try:
                with deadline(spec.timeout_s):
                    summary = run_trial(spec, emit=rows.extend)
                break
            except Exception as e:  # the trial's own failure, recorded as a result
                _free_accelerator_memory()
                summary = {
                    "status": FAILED,
                    "error": f"{type(e).__name__}: {e}".strip()[:2000],
                    "attempts": attempt + 1,
                }
                rows = []
        report(index, rows, summary, started)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """End this worker process if the block runs longer than ``seconds`` (a hung trial cannot be
    interrupted from inside: a C call, a deadlock, a sleep). The driver records the timeout."""
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds, os._exit, args=(TIMEOUT_EXIT,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def placement() -> dict[str, str]:
    """Where the trial ran (called in the worker): host, Ray node id, GPU ids Ray granted (JSON)."""
    import ray

    return {
        "node": platform.node(),
        "ray_node": ray.get_runtime_context().get_node_id(),
        "gpu_ids": json.dumps([str(g) for g in ray.get_gpu_ids()]),
    }


def objective(summary: dict[str, Any]) -> float:
    """What a searcher minimises: the final validation loss; a diverged or failed trial counts as
    its initial loss (as in every robustness metric), or +inf when even that is unknown."""
    if summary["status"] == "completed" and math.isfinite(summary.get("final_val_loss", math.nan)):
        return float(summary["final_val_loss"])
    init = summary.get("init_loss", math.nan)
    return float(init) if math.isfinite(init) else math.inf


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
