"""Run a sweep's trials with Ray Tune; the driver writes every finished trial to the results store.

Local by default: an embedded Ray (no dashboard) started and stopped here, sized to this machine.
``address`` joins an existing cluster instead; results travel back through Ray, so the cluster
needs no shared filesystem. Each trial declares its resources (cpus, a fraction of a GPU); Ray
Tune schedules them. Trials already complete in the store are skipped; failed ones run again.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from optbasin.sweeps.progress import Progress
from optbasin.sweeps.spec import TrialSpec
from optbasin.sweeps.store import ResultsStore
from optbasin.sweeps.trial import FAILED, run_trial

# Ray Tune's own per-trial JSON/CSV/TensorBoard loggers: the results store replaces them.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def tune_trainable(config: dict[str, Any]) -> None:
    """The function Ray Tune runs in a worker: one trial, rows reported at every eval.

    A Python exception (out-of-memory included) is retried here, in the same process, up to
    ``retries`` times, then reported as a failed trial: the worker stays alive for the next
    trial. A worker that dies outright is restarted by Ray (FailureConfig, same budget).
    """
    from ray import tune

    spec = TrialSpec.model_validate(config["spec"])
    retries = int(config.get("retries", 0))
    for attempt in range(retries + 1):
        try:
            summary = run_trial(spec, emit=lambda rows: tune.report({"rows": rows}))
            break
        except Exception as e:  # the trial's own failure, recorded as a result
            _free_accelerator_memory()
            summary = {"status": FAILED, "error": f"{type(e).__name__}: {e}".strip()[:2000], "attempts": attempt + 1}
            tune.report({"rows": [], "restart": True})
    tune.report({"rows": [], "summary": summary})


def _free_accelerator_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def trial_row(spec: TrialSpec, summary: dict[str, Any]) -> dict[str, Any]:
    """The trials.parquet row of a finished trial."""
    import json
    import platform

    row = {
        "trial_id": spec.trial_id, "sweep": spec.sweep, "task": spec.task, "task_name": spec.task_name,
        "optimizer": spec.optimizer, "optimizer_name": spec.optimizer_name, "seed": spec.seed,
        "steps": spec.steps, "swept": json.dumps(spec.swept), "task_params": json.dumps(spec.task_params, sort_keys=True),
        "node": platform.node(), "error": "",
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
    """Ray Tune callback (driver side): buffers each trial's rows, commits it when it ends."""

    def __init__(self, store: ResultsStore, progress: Progress, outcome: Outcome,
                 on_commit: Callable[[], None] | None):
        self.store, self.progress, self.outcome, self.on_commit = store, progress, outcome, on_commit
        self.rows: dict[str, list[dict]] = defaultdict(list)

    @staticmethod
    def _spec(trial: Any) -> TrialSpec:
        return TrialSpec.model_validate(trial.config["spec"])

    def _commit(self, spec: TrialSpec, summary: dict[str, Any]) -> None:
        tid = spec.trial_id
        self.store.record(trial_row(spec, summary), self.rows.pop(tid, []))
        self.outcome.counts[summary["status"]] += 1
        if summary["status"] == FAILED:
            self.outcome.errors[tid] = summary["error"]
        self.progress.finished(summary["status"])
        if self.on_commit is not None:
            self.on_commit()

    def on_trial_start(self, trial: Any) -> None:
        self.progress.running += 1
        self.progress.show()

    def on_trial_recover(self, trial: Any) -> None:
        self.rows.pop(self._spec(trial).trial_id, None)  # the retry starts from scratch

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> None:
        spec = self._spec(trial)
        if result.get("restart"):
            self.rows.pop(spec.trial_id, None)
        self.rows[spec.trial_id].extend(result.get("rows") or [])
        if "summary" in result:
            self.progress.running -= 1
            self._commit(spec, {"error": "", **result["summary"]})

    def on_trial_error(self, trial: Any) -> None:
        """The worker process died (retries by Ray exhausted): a failed trial."""
        self.progress.running -= 1
        self._commit(self._spec(trial), {"status": FAILED, "error": _ray_error(trial)})


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

        def on_trial_recover(self, iteration, trials, trial, **info):
            cb.on_trial_recover(trial)

        def on_trial_error(self, iteration, trials, trial, **info):
            cb.on_trial_error(trial)

        def on_step_end(self, iteration, trials, **info):
            cb.progress.show()

    return StoreCallback()


def init_ray(address: str | None = None, show_ray_logs: bool = False) -> bool:
    """Start an embedded Ray (or join ``address``). Returns True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {} if show_ray_logs else {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(include_dashboard=False, **quiet)
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
) -> Outcome:
    """Run every trial not yet complete in ``store`` through Ray Tune; commit each as it ends."""
    import ray
    from ray import tune

    t0 = time.monotonic()
    done = store.done_ids()
    pending = [t for t in trials if t.trial_id not in done]
    outcome = Outcome(skipped=len(trials) - len(pending))
    view = Progress(len(pending), skipped=outcome.skipped, enabled=progress)
    if not pending:
        return outcome
    started = init_ray(address, show_ray_logs)
    try:
        resources = {"cpu": pending[0].cpus, "gpu": pending[0].gpus}
        callback = _StoreCallback(store, view, outcome, on_commit)
        with tempfile.TemporaryDirectory(prefix="optbasin-tune-") as tmp:
            tuner = tune.Tuner(
                tune.with_resources(tune_trainable, resources),
                param_space={"spec": tune.grid_search([t.model_dump() for t in pending]), "retries": retries},
                tune_config=tune.TuneConfig(reuse_actors=True),
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
    outcome.elapsed = time.monotonic() - t0
    return outcome
