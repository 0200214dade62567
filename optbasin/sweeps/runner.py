"""Run a sweep's trials with Ray Tune; the driver writes every finished trial to the results store.

Local by default: an embedded Ray (no dashboard) started and stopped here, sized to this machine.
``address`` joins an existing cluster instead; results travel back through Ray, so the cluster
needs no shared filesystem. Each trial declares its resources (cpus, a fraction of a GPU); Ray
Tune schedules them. Trials already complete in the store are skipped; failed ones run again.

Crash isolation: trials travel in batches (one Ray Tune trial runs several of ours), and each
report of a finished trial also tells the driver that the next one is starting. When a worker
process dies (kill, out of memory, or its trial over ``timeout_s``, which the worker enforces
by ending its own process) only the trial it was running is recorded failed ("timeout after N
s", or "trial process died" once ``retries`` reruns are spent); the batch's never-started
trials run again in a follow-up round of Ray Tune, on fresh workers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import threading
import time
import warnings
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from optbasin.errors import StoreError
from optbasin.population.grouping import populations
from optbasin.population.scheduling import population_size, run_populations, runs_as_population
from optbasin.sweeps.progress import Progress
from optbasin.sweeps.signals import StopRequest, graceful, stop_on_signals
from optbasin.sweeps.spec import TrialSpec
from optbasin.sweeps.store import ResultsStore
from optbasin.sweeps.trial import FAILED, run_trial

# Ray Tune's own per-trial JSON/CSV/TensorBoard loggers: the results store replaces them.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
# Ray Tune's SIGINT handler makes fit() return as if finished: optbasin handles signals (signals.py).
os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
TUNE_DIR = ".tune"  # Ray Tune's experiment state of the running sweep, inside the run directory
TIMEOUT_EXIT = 124  # exit status of a worker that ended itself because its trial ran over time
# What a local Ray's worker processes import as they start (Ray starts one per CPU with ray.init):
# Ray Tune's actors then find torch and optbasin loaded instead of importing them (about 1.6 s)
# after the sweep has begun.
WORKER_PRELOAD = ("torch", "ray.tune", "optbasin.sweeps.runner")


def tune_trainable(config: dict[str, Any]) -> None:
    """The function Ray Tune runs in a worker: a batch of trials, one report per trial as it ends.

    A Ray Tune trial costs about 0.1-0.2 s of scheduling on top of its work, as much as a whole
    small trial; so short trials travel in batches (see ``batch_size``). Each of our trials is
    still reported, and committed by the driver, the moment it ends.
    A Python exception (out-of-memory included) is retried here, in the same process, up to
    ``retries`` times, then reported as a failed trial: the worker stays alive for the next
    trial. An attempt over ``spec.timeout_s`` ends this process; a worker that dies outright
    is handled by the driver (see the module doc).
    With ``population`` > 1 in the config, the batch is one population (optbasin/population/):
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
        in_populations = run_populations(specs, int(config.get("population", 1)),
                                         lambda i, rows, summary: report(i, rows, summary, t_pop))
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
                summary = {"status": FAILED, "error": f"{type(e).__name__}: {e}".strip()[:2000],
                           "attempts": attempt + 1}
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
        "round": spec.round, "added_for": spec.added_for,
        "task_params": json.dumps(spec.task_params, sort_keys=True),
        "schedule": json.dumps(spec.schedule.model_dump(), sort_keys=True), "error": "",
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
    """Ray Tune callback (driver side): commits each trial to the store as its report arrives,
    and knows which trial of each batch is running (for crash isolation and time limits)."""

    def __init__(self, store: ResultsStore, progress: Progress, outcome: Outcome,
                 on_commit: Callable[[], None] | None, retries: int = 0):
        self.store, self.progress, self.outcome, self.on_commit = store, progress, outcome, on_commit
        self.retries = retries
        self.committed: set[str] = set()
        self.specs: dict[str, list[TrialSpec]] = {}  # Ray Tune trial id -> its batch, parsed once
        self.running: dict[str, tuple[int, float]] = {}  # Ray Tune trial id -> (index in batch, since)
        self.deaths: dict[str, int] = defaultdict(int)  # our trial id -> times its process died
        self.rerun: list[TrialSpec] = []  # to run again in a follow-up round
        self.fatal: StoreError | None = None  # the store cannot take more (disk full): stop

    def _specs(self, trial: Any) -> list[TrialSpec]:
        if trial.trial_id not in self.specs:
            self.specs[trial.trial_id] = specs_of(trial.config)
        return self.specs[trial.trial_id]

    def _commit(self, spec: TrialSpec, rows: list[dict], summary: dict[str, Any]) -> None:
        tid = spec.trial_id
        if tid in self.committed or self.fatal is not None:
            return
        try:
            self.store.record(trial_row(spec, summary), rows)
        except StoreError as e:  # disk full: nothing more can be written; the sweep stops
            self.fatal = e
            return
        except Exception as e:  # this row cannot be written: the trial is failed with the reason
            summary = {"status": FAILED, "error": f"its results cannot be written: {type(e).__name__}: {e}"[:2000]}
            try:
                self.store.record(trial_row(spec, summary), [])
            except StoreError as e2:
                self.fatal = e2
                return
            except Exception:
                pass  # not even the failure is writable: counted, reported, and rerun by a resume
        self.committed.add(tid)
        self.outcome.counts[summary["status"]] += 1
        if summary["status"] == FAILED:
            self.outcome.errors[tid] = summary["error"]
        self.progress.finished(summary["status"])
        call_side_job(self.on_commit, f"after committing trial {tid}")

    def on_trial_start(self, trial: Any) -> None:
        self.running[trial.trial_id] = (0, time.monotonic())
        self.progress.running += 1
        self.progress.show()

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> None:
        index = result["trial"]
        self._commit(self._specs(trial)[index], result["rows"], {"error": "", **result["summary"]})
        self.running[trial.trial_id] = (index + 1, time.monotonic())  # the worker starts the next one

    def on_trial_complete(self, trial: Any) -> None:
        self.running.pop(trial.trial_id, None)
        self.progress.running -= 1

    def on_trial_error(self, trial: Any) -> None:
        """The worker process died: the trial it was running failed (timeout, or died once its
        reruns are spent); the batch's trials it never started run again. A population's members
        all train at once, so none of them is to blame yet: its unfinished members run again one
        at a time (follow-up rounds never form populations), where the rule above applies."""
        self.progress.running -= 1
        batch = self._specs(trial)
        index, since = self.running.pop(trial.trial_id, (0, time.monotonic()))
        if int(trial.config.get("population", 1)) > 1 and runs_as_population(batch):
            self.rerun += [s for s in batch if s.trial_id not in self.committed]
            return
        if index < len(batch):
            spec = batch[index]
            if spec.timeout_s is not None and time.monotonic() - since >= spec.timeout_s:
                self._commit(spec, [], {"status": FAILED, "error": f"timeout after {spec.timeout_s:g} s"})
            elif self.deaths[spec.trial_id] < self.retries:
                self.deaths[spec.trial_id] += 1
                self.rerun.append(spec)
            else:
                self._commit(spec, [], {"status": FAILED, "error": _ray_error(trial),
                                        "attempts": self.deaths[spec.trial_id] + 1})
        self.rerun += [s for s in batch[index + 1:] if s.trial_id not in self.committed]


def call_side_job(job: Callable[[], None] | None, when: str) -> None:
    """Run a side job (the live report); its failure is a warning, never the end of the sweep."""
    if job is None:
        return
    try:
        job()
    except Exception as e:
        warnings.warn(f"{when}: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)


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


def _make_stopper(cb: _StoreCallback, request: StopRequest) -> Any:
    """Stops the whole Ray Tune run after a signal or when the store cannot take more."""
    from ray import tune

    class Stop(tune.Stopper):
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return request.requested is not None or cb.fatal is not None

    return Stop()


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


def init_ray(address: str | None = None, show_ray_logs: bool = False) -> Path | None:
    """Start an embedded Ray (or join ``address``). Returns the Ray session directory when this
    call started Ray (None when Ray was already running in this process).

    On the calling thread, which goes on to use Ray: a driver whose ``ray.init`` ran in another
    thread (tried, to overlap Ray's start with the planning) loses its connection to Ray's GCS."""
    import ray

    if ray.is_initialized():
        return None
    quiet = {} if show_ray_logs else {"log_to_driver": False, "logging_level": logging.ERROR}
    if not show_ray_logs:  # a dead or timed-out worker is recorded in its trial's row; no Tune error dump
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    _tune_actors_on_started_workers()
    if address:
        ctx = ray.init(address=address, **quiet)
    else:  # "local": always a fresh embedded Ray, never a cluster that happens to run on this machine
        ctx = ray.init(address="local", include_dashboard=False, **quiet,
                       _system_config={"preload_python_modules": list(WORKER_PRELOAD)})
    return Path(ctx.address_info["session_dir"])


def _tune_actors_on_started_workers() -> None:
    """Let Ray Tune's trial actors use the worker processes Ray starts with ``ray.init``.

    Ray Tune gives every trial actor a runtime_env setting PL_DISABLE_FORK=1 (a PyTorch Lightning
    switch; ray/tune/execution/class_cache.py), and Ray runs an actor with a runtime_env only in
    a worker started for that env, after the actor is requested: a fresh process that then imports
    torch and optbasin while the sweep waits. Set in this process instead, the variable reaches
    every worker (they inherit the driver's environment) and the actors take the started workers.
    Only a speed-up: a Ray without that table keeps its default."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    try:
        from ray.tune.execution import class_cache
    except ImportError:
        return
    defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    if isinstance(defaults, dict) and defaults.get("PL_DISABLE_FORK") == os.environ["PL_DISABLE_FORK"]:
        del defaults["PL_DISABLE_FORK"]


def stop_ray(session_dir: Path, local: bool, keep_logs: bool) -> None:
    """Shut down the Ray this process started; a local Ray's session directory (logs, sockets,
    in Ray's temp directory) is removed unless ``keep_logs`` (--ray-logs).

    On the calling thread: Ray shut down from another thread while this one still holds Ray
    objects (Ray Tune's actor handles, object refs) ends the whole process when those are freed
    ("The core worker has already been shutdown ... The process will exit")."""
    import ray

    ray.shutdown()
    if local and not keep_logs:
        shutil.rmtree(session_dir, ignore_errors=True)
        latest = session_dir.parent / "session_latest"
        if latest.is_symlink() and latest.resolve() == session_dir.resolve():
            latest.unlink(missing_ok=True)


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
        return tune_run(space, pending[0], store, view, outcome, retries=retries, address=address,
                        show_ray_logs=show_ray_logs, on_commit=on_commit)


@contextmanager
def ray_session(address: str | None, show_ray_logs: bool) -> Iterator[None]:
    """Ray for the block: started (or joined) here unless this process already runs one, then
    stopped on leaving. From the moment ``ray.init`` returns, which installs its own SIGTERM
    handler, signals go to optbasin's (signals.py)."""
    session_dir = init_ray(address, show_ray_logs)
    try:
        with stop_on_signals(StopRequest()):
            yield
    finally:
        if session_dir is not None:
            stop_ray(session_dir, local=not address, keep_logs=show_ray_logs)


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
    callback = _StoreCallback(store, view, outcome, on_commit, retries)
    tune_dir = store.root / TUNE_DIR
    try:
        with stop_on_signals(StopRequest()) as request:
            fit = dict(example=example, callback=callback, request=request, tune_dir=tune_dir, retries=retries,
                       show_ray_logs=show_ray_logs)
            _fit(space, search_alg=search_alg, num_samples=num_samples, **fit)
            while callback.rerun:
                again, callback.rerun = callback.rerun, []
                _fit(batched_space(again, concurrent_slots(example, address)), **fit)
    finally:
        view.close()
        shutil.rmtree(tune_dir, ignore_errors=True)
    outcome.elapsed += time.monotonic() - t0
    return outcome


def _fit(space: dict[str, Any], *, example: TrialSpec, callback: _StoreCallback, request: StopRequest,
         tune_dir: Path, retries: int, show_ray_logs: bool, search_alg: Any = None, num_samples: int = 1) -> None:
    """One Ray Tune run; raise what stopped it (a signal, a full disk)."""
    from ray import tune

    shutil.rmtree(tune_dir, ignore_errors=True)  # we hold the run directory's lock
    tuner = tune.Tuner(
        tune.with_resources(tune_trainable, {"cpu": example.cpus, "gpu": example.gpus}),
        param_space={**space, "retries": retries},
        tune_config=tune.TuneConfig(reuse_actors=True, search_alg=search_alg, num_samples=num_samples,
                                    metric="loss" if search_alg else None,
                                    mode="min" if search_alg else None),
        run_config=tune.RunConfig(
            name="optbasin", storage_path=str(tune_dir.resolve()), verbose=1 if show_ray_logs else 0,
            callbacks=[_make_tune_callback(callback)], stop=_make_stopper(callback, request),
            failure_config=tune.FailureConfig(max_failures=0),  # a dead worker: see on_trial_error
        ),
    )
    with graceful(request):
        tuner.fit()
    if callback.fatal is not None:
        raise callback.fatal
    request.check()
