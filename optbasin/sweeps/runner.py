"""Run a sweep's trials with Ray Tune; the driver writes every finished trial to the results store.

Local by default: an embedded Ray (no dashboard) started and stopped here, sized to this machine.
``address`` joins an existing cluster instead; results travel back through Ray, so the cluster
needs no shared filesystem. Each trial declares its resources (cpus, a fraction of a GPU); Ray
Tune schedules them. Trials already complete in the store are skipped; failed ones run again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from optbasin.population.grouping import populations
from optbasin.population.scheduling import population_size, run_populations
from optbasin.sweeps.progress import Progress
from optbasin.sweeps.spec import TrialSpec
from optbasin.sweeps.store import ResultsStore
from optbasin.sweeps.trial import FAILED, run_trial

# Ray Tune's own per-trial JSON/CSV/TensorBoard loggers: the results store replaces them.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def tune_trainable(config: dict[str, Any]) -> None:
    """The function Ray Tune runs in a worker: a batch of trials, one report per trial as it ends.

    A Ray Tune trial costs about 0.1-0.2 s of scheduling on top of its work, as much as a whole
    small trial; so short trials travel in batches (see ``batch_size``). Each of our trials is
    still reported, and committed by the driver, the moment it ends.
    A Python exception (out-of-memory included) is retried here, in the same process, up to
    ``retries`` times, then reported as a failed trial: the worker stays alive for the next
    trial. A worker that dies outright is restarted by Ray (FailureConfig, same budget).
    With ``population`` > 1 in the config, the batch's populations train first (each member
    reported as it ends); the trials no population took run one at a time, as above.
    """
    from ray import tune

    retries = int(config.get("retries", 0))
    specs = specs_of(config)

    def report(index: int, rows: list[dict], summary: dict[str, Any], started: float) -> None:
        summary.update(placement(), started_at=started, finished_at=time.time())
        tune.report({"trial": index, "rows": rows, "summary": summary, "loss": objective(summary)})

    t_pop = time.time()
    in_populations = run_populations(specs, int(config.get("population", 1)),
                                     lambda i, rows, summary: report(i, rows, summary, t_pop))
    for index, spec in enumerate(specs):
        if index in in_populations:
            continue
        started = time.time()
        for attempt in range(retries + 1):
            rows: list[dict] = []
            try:
                summary = run_trial(spec, emit=rows.extend)
                break
            except Exception as e:  # the trial's own failure, recorded as a result
                _free_accelerator_memory()
                summary = {"status": FAILED, "error": f"{type(e).__name__}: {e}".strip()[:2000],
                           "attempts": attempt + 1}
                rows = []
        report(index, rows, summary, started)


def specs_of(config: dict[str, Any]) -> list[TrialSpec]:
    """The trials of a Ray Tune config: full specs, plus hyperparameters a searcher sampled."""
    specs = [TrialSpec.model_validate(d) for d in config["specs"]]
    if config.get("hp"):
        specs = [s.model_copy(update={"hparams": {**s.hparams, **config["hp"]}}) for s in specs]
    return specs


def batch_size(n_trials: int, slots: int, most: int = 16) -> int:
    """Trials per Ray Tune trial: at least 4 batches per concurrent slot (load balance), at most
    ``most`` trials a batch (a killed worker reruns at most one batch)."""
    return max(1, min(most, math.ceil(n_trials / (4 * max(1, slots)))))


def placement() -> dict[str, str]:
    """Where the trial ran (called in the worker): host, Ray node id, GPU ids Ray granted (JSON)."""
    import ray

    return {"node": platform.node(), "ray_node": ray.get_runtime_context().get_node_id(),
            "gpu_ids": json.dumps([str(g) for g in ray.get_gpu_ids()])}


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


def trial_row(spec: TrialSpec, summary: dict[str, Any]) -> dict[str, Any]:
    """The trials.parquet row of a finished trial."""
    row = {
        "trial_id": spec.trial_id, "sweep": spec.sweep, "task": spec.task, "task_name": spec.task_name,
        "optimizer": spec.optimizer, "optimizer_name": spec.optimizer_name, "seed": spec.seed,
        "steps": spec.steps, "swept": json.dumps(spec.swept), "origin": spec.origin,
        "task_params": json.dumps(spec.task_params, sort_keys=True), "error": "",
    }
    row.update({f"hp.{k}": v for k, v in spec.hparams.items()})
    row.update(summary)
    return row


@dataclass
class Outcome:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # trial_id -> message of failed trials
    elapsed: float = 0.0


class _StoreCallback:
    """Ray Tune callback (driver side): commits each trial to the store as its report arrives."""

    def __init__(self, store: ResultsStore, progress: Progress, outcome: Outcome,
                 on_commit: Callable[[], None] | None):
        self.store, self.progress, self.outcome, self.on_commit = store, progress, outcome, on_commit
        self.committed: set[str] = set()
        self.specs: dict[str, list[TrialSpec]] = {}  # Ray Tune trial id -> its batch, parsed once

    def _specs(self, trial: Any) -> list[TrialSpec]:
        if trial.trial_id not in self.specs:
            self.specs[trial.trial_id] = specs_of(trial.config)
        return self.specs[trial.trial_id]

    def _commit(self, spec: TrialSpec, rows: list[dict], summary: dict[str, Any]) -> None:
        tid = spec.trial_id
        if tid in self.committed:  # a batch rerun after its worker died: recorded once already
            return
        self.committed.add(tid)
        self.store.record(trial_row(spec, summary), rows)
        self.outcome.counts[summary["status"]] += 1
        if summary["status"] == FAILED:
            self.outcome.errors[tid] = summary["error"]
        self.progress.finished(summary["status"])
        if self.on_commit is not None:
            try:
                self.on_commit()
            except Exception as e:  # a side job (the live report) never takes the sweep down
                warnings.warn(f"after committing trial {tid}: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)

    def on_trial_start(self, trial: Any) -> None:
        self.progress.running += 1
        self.progress.show()

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> None:
        spec = self._specs(trial)[result["trial"]]
        self._commit(spec, result["rows"], {"error": "", **result["summary"]})

    def on_trial_complete(self, trial: Any) -> None:
        self.progress.running -= 1

    def on_trial_error(self, trial: Any) -> None:
        """The worker process died (retries by Ray exhausted): its unfinished trials failed."""
        self.progress.running -= 1
        for spec in self._specs(trial):
            self._commit(spec, [], {"status": FAILED, "error": _ray_error(trial)})


def _ray_error(trial: Any) -> str:
    """Best message Ray kept for a trial that died without reporting (e.g. a killed worker)."""
    try:
        err = trial.get_error()
        if err is not None:
            return f"{type(err).__name__}: {err}".splitlines()[0][:500]
    except Exception:
        pass
    return "trial process died without reporting an error (killed, or out of memory?)"


def _make_tune_callback(cb: _StoreCallback) -> Any:
    from ray import tune

    class StoreCallback(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            cb.on_trial_start(trial)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            cb.on_trial_result(trial, result)

        def on_trial_complete(self, iteration, trials, trial, **info):
            cb.on_trial_complete(trial)

        def on_trial_error(self, iteration, trials, trial, **info):
            cb.on_trial_error(trial)

        def on_step_end(self, iteration, trials, **info):
            cb.progress.show()

    return StoreCallback()


def concurrent_slots(example: TrialSpec, address: str | None) -> int:
    """How many trials of this shape the cluster (or this machine) runs at once."""
    import ray

    if ray.is_initialized():
        total = ray.cluster_resources()
    elif address:
        return 64  # unknown until connected; a large cluster gets small batches
    else:
        total = {"CPU": os.cpu_count() or 1}
    slots = total.get("CPU", 1) / example.cpus
    if example.gpus > 0:
        slots = min(slots, total.get("GPU", 0) / example.gpus)
    return max(1, int(slots))


def init_ray(address: str | None = None, show_ray_logs: bool = False) -> bool:
    """Start an embedded Ray (or join ``address``). Returns True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {} if show_ray_logs else {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **quiet)
    else:  # "local": always a fresh embedded Ray, never a cluster that happens to run on this machine
        ray.init(address="local", include_dashboard=False, **quiet)
    return True


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
    as populations of up to K members (optbasin/population/), one Ray Tune trial each."""
    from ray import tune

    done = store.done_ids()
    pending = [t for t in trials if t.trial_id not in done]
    outcome = Outcome(skipped=len(trials) - len(pending))
    if not pending:
        return outcome
    view = Progress(len(pending), skipped=outcome.skipped, enabled=progress)
    slots = concurrent_slots(pending[0], address)
    size = population_size(population, pending, slots)
    if size > 1:
        batches = populations(pending, size)
    else:
        k = batch_size(len(pending), slots)
        batches = [pending[i::math.ceil(len(pending) / k)] for i in range(math.ceil(len(pending) / k))]
    space = {"specs": tune.grid_search([[t.model_dump() for t in b] for b in batches]), "population": size}
    return tune_run(space, pending[0], store, view, outcome, retries=retries, address=address,
                    show_ray_logs=show_ray_logs, on_commit=on_commit)


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
    """One Ray Tune run over ``space`` (trials shaped like ``example``), results into ``store``."""
    import ray
    from ray import tune

    t0 = time.monotonic()
    started = init_ray(address, show_ray_logs)
    try:
        resources = {"cpu": example.cpus, "gpu": example.gpus}
        callback = _StoreCallback(store, view, outcome, on_commit)
        with tempfile.TemporaryDirectory(prefix="optbasin-tune-") as tmp:
            tuner = tune.Tuner(
                tune.with_resources(tune_trainable, resources),
                param_space={**space, "retries": retries},
                tune_config=tune.TuneConfig(reuse_actors=True, search_alg=search_alg, num_samples=num_samples,
                                            metric="loss" if search_alg else None,
                                            mode="min" if search_alg else None),
                run_config=tune.RunConfig(
                    name="optbasin", storage_path=tmp, verbose=1 if show_ray_logs else 0,
                    callbacks=[_make_tune_callback(callback)],
                    failure_config=tune.FailureConfig(max_failures=retries),
                ),
            )
            tuner.fit()
    finally:
        view.close()
        if started:
            ray.shutdown()
    outcome.elapsed += time.monotonic() - t0
    return outcome
