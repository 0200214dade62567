"""Run a sweep's trials with Ray Tune; the driver writes every finished trial to the results store.

Local by default: an embedded Ray (no dashboard) started and stopped here, sized to this machine.
``address`` joins an existing cluster instead; results travel back through Ray, so the cluster
needs no shared filesystem. Each trial declares its resources (cpus, a fraction of a GPU); Ray
Tune schedules them. Trials already complete in the store are skipped; failed ones run again.

Crash isolation: trials travel in batches (one Ray Tune trial runs several of ours, batching.py),
and each report of a finished trial also tells the driver that the next one is starting. When a
worker process dies (kill, out of memory, or its trial over ``timeout_s``, which the worker
enforces by ending its own process: trainable.py) only the trial it was running is recorded failed
("timeout after N s", or "trial process died" once ``retries`` reruns are spent: callback.py); the
batch's never-started trials run again in a follow-up round of Ray Tune, on fresh workers.
Ray's start and stop: ray_session.py; the trials.parquet row: rows.py.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optbasin.sweeps.batching import batched_space, populated_space
from optbasin.sweeps.callback import Outcome, StoreCallback, stopper, tune_callback
from optbasin.sweeps.populations import population_size
from optbasin.sweeps.progress import Progress
from optbasin.sweeps.ray_session import concurrent_slots, ray_session, tune_environment
from optbasin.sweeps.signals import StopRequest, graceful, stop_on_signals
from optbasin.sweeps.store import ResultsStore
from optbasin.sweeps.trainable import tune_trainable
from optbasin.training.trial_spec import TrialSpec

TUNE_DIR = ".tune"  # Ray Tune's experiment state of the running sweep, inside the run directory


def run_trials(
    trials: list[TrialSpec],
    store: ResultsStore,
    *,
    retries: int = 0,
    address: str | None = None,
    progress: bool = True,
    show_ray_logs: bool = False,
    on_commit: Callable[[], None] | None = None,
    population: str | int = 1,
) -> Outcome:
    """Run every trial not yet complete in ``store`` through Ray Tune; commit each as it ends.
    ``population`` (auto | K | 1): trials that differ only in float hyperparameters train together
    as populations of up to K members (optbasin/training/population.py), one Ray Tune trial each."""
    done = store.done_ids()
    pending = [t for t in trials if t.trial_id not in done]
    outcome = Outcome(skipped=len(trials) - len(pending))
    if not pending:
        return outcome
    view = Progress(len(pending), skipped=outcome.skipped, enabled=progress)
    with ray_session(address, show_ray_logs):  # Ray first: a cluster's slots (--address) size the populations
        slots = concurrent_slots(pending[0], address)
        size = population_size(population, pending, slots)
        space = populated_space(pending, size, slots) if size > 1 else batched_space(pending, slots)
        return tune_run(
            space,
            pending[0],
            store,
            view,
            outcome,
            retries=retries,
            address=address,
            show_ray_logs=show_ray_logs,
            on_commit=on_commit,
        )


def tune_run(
    space: dict[str, Any],
    example: TrialSpec,
    store: ResultsStore,
    view: Progress,
    outcome: Outcome,
    *,
    retries: int,
    address: str | None,
    show_ray_logs: bool,
    on_commit: Callable[[], None] | None,
    search_alg: Any = None,
    num_samples: int = 1,
) -> Outcome:
    """Ray Tune over ``space`` (trials shaped like ``example``), results into ``store``; then
    follow-up rounds for trials a dead worker never started (see the module doc).

    Raises Interrupted after SIGINT/SIGTERM and StoreError when the store cannot take more,
    once Ray Tune has stopped; every trial committed until then stays in the store.
    Runs inside the caller's ``ray_session`` (run_trials, search.run_search)."""
    t0 = time.monotonic()
    callback = StoreCallback(store, view, outcome, on_commit, retries)
    tune_dir = store.root / TUNE_DIR
    try:
        with stop_on_signals(StopRequest()) as request:
            fit = dict(
                example=example,
                callback=callback,
                request=request,
                tune_dir=tune_dir,
                retries=retries,
                show_ray_logs=show_ray_logs,
            )
            _fit(space, search_alg=search_alg, num_samples=num_samples, **fit)
            while callback.rerun:
                again, callback.rerun = callback.rerun, []
                _fit(batched_space(again, concurrent_slots(example, address)), **fit)
    finally:
        view.close()
        shutil.rmtree(tune_dir, ignore_errors=True)
    outcome.elapsed += time.monotonic() - t0
    return outcome


def _fit(
    space: dict[str, Any],
    *,
    example: TrialSpec,
    callback: StoreCallback,
    request: StopRequest,
    tune_dir: Path,
    retries: int,
    show_ray_logs: bool,
    search_alg: Any = None,
    num_samples: int = 1,
) -> None:
    """One Ray Tune run; raise what stopped it (a signal, a full disk)."""
    from ray import tune

    shutil.rmtree(tune_dir, ignore_errors=True)  # we hold the run directory's lock
    tune_environment()
    tuner = tune.Tuner(
        tune.with_resources(tune_trainable, {"cpu": example.cpus, "gpu": example.gpus}),
        param_space={**space, "retries": retries},
        tune_config=tune.TuneConfig(
            reuse_actors=True,
            search_alg=search_alg,
            num_samples=num_samples,
            metric="loss" if search_alg else None,
            mode="min" if search_alg else None,
        ),
        run_config=tune.RunConfig(
            name="optbasin",
            storage_path=str(tune_dir.resolve()),
            verbose=1 if show_ray_logs else 0,
            callbacks=[tune_callback(callback)],
            stop=stopper(callback, request),
            failure_config=tune.FailureConfig(max_failures=0),  # a dead worker: see on_trial_error
        ),
    )
    with graceful(request):
        tuner.fit()
    if callback.fatal is not None:
        raise callback.fatal
    request.check()
