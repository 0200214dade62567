"""The driver's side of a Ray Tune run: the callback that commits each trial to the results store
as its report arrives and accounts for workers that die (crash isolation: optbasin/sweeps/runner.py),
the stopper that ends the run after a signal or a full disk, and the run's Outcome."""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optbasin.errors import StoreError
from optbasin.sweeps.batching import specs_of
from optbasin.sweeps.populations import runs_as_population
from optbasin.sweeps.progress import Progress
from optbasin.sweeps.rows import trial_row
from optbasin.sweeps.signals import StopRequest
from optbasin.sweeps.store import ResultsStore
from optbasin.training.loop import FAILED
from optbasin.training.trial_spec import TrialSpec


@dataclass
class Outcome:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # trial_id -> message of failed trials
    elapsed: float = 0.0


class StoreCallback:
    """Ray Tune callback (driver side): commits each trial to the store as its report arrives,
    and knows which trial of each batch is running (for crash isolation and time limits)."""

    def __init__(
        self,
        store: ResultsStore,
        progress: Progress,
        outcome: Outcome,
        on_commit: Callable[[], None] | None,
        retries: int = 0,
    ):
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
                self._commit(
                    spec, [], {"status": FAILED, "error": _ray_error(trial), "attempts": self.deaths[spec.trial_id] + 1}
                )
        self.rerun += [s for s in batch[index + 1 :] if s.trial_id not in self.committed]


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


def tune_callback(cb: StoreCallback) -> Any:
    """``cb`` as the tune.Callback Ray Tune calls."""
    from ray import tune

    class TuneCallback(tune.Callback):
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

    return TuneCallback()


def stopper(cb: StoreCallback, request: StopRequest) -> Any:
    """Stops the whole Ray Tune run after a signal or when the store cannot take more."""
    from ray import tune

    class Stop(tune.Stopper):
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return request.requested is not None or cb.fatal is not None

    return Stop()
