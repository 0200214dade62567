"""MLflow: one experiment per sweep (its name, or MLFLOW_EXPERIMENT_NAME), one parent run for the
sweep holding the analysis files as artifacts, one child run per trial (params, per-step
metrics, summary metrics, tags). The tracking server is MLflow's own choice: MLFLOW_TRACKING_URI
(a server, a database, or file:DIR), else MLflow's default. Idempotent: runs are found by their
``trial_id`` tag; a trial whose store attempt is unchanged is left alone, a rerun trial's old
run is deleted and written anew."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from optbasin.errors import OptbasinError
from optbasin.export.common import RunExport, TrialRecord, require

KIND, ATTEMPT = "optbasin.kind", "optbasin.attempt"
MAX_METRICS, MAX_PARAMS = 1000, 100  # per log_batch call (MLflow's limits)


def _all_runs(client, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _log_trial(client, entities, experiment_id: str, parent_id: str, t: TrialRecord) -> None:
    Metric, Param = entities.Metric, entities.Param
    tags = {**t.tags, ATTEMPT: t.attempt, KIND: "trial", "mlflow.parentRunId": parent_id}
    if t.error:
        tags["error"] = t.error[:5000]
    run = client.create_run(experiment_id, run_name=t.name, tags=tags)
    rid, now = run.info.run_id, int(time.time() * 1000)
    params = [Param(k, str(v)) for k, v in t.params.items()]
    metrics = [Metric(k, v, now, step) for step, values in t.step_values() for k, v in values.items()]
    last = int(t.summary.get("steps_done", 0))
    metrics += [Metric(f"summary.{k}", v, now, last) for k, v in t.summary.items()]
    for i in range(0, len(params), MAX_PARAMS):
        client.log_batch(rid, params=params[i : i + MAX_PARAMS])
    for i in range(0, len(metrics), MAX_METRICS):
        client.log_batch(rid, metrics=metrics[i : i + MAX_METRICS])
    client.set_terminated(rid, "FAILED" if t.status == "failed" else "FINISHED")


def export(run: RunExport, out: str | None, log: Callable[[str], None]) -> dict:
    mlflow = require("mlflow", "mlflow")
    try:
        return _export(mlflow, run)
    except mlflow.exceptions.MlflowException as e:  # e.g. an unusable MLFLOW_TRACKING_URI
        raise OptbasinError(f"MLflow at {mlflow.get_tracking_uri()}: {e.message}") from None


def _export(mlflow, run: RunExport) -> dict:
    import mlflow.entities as entities

    client = mlflow.tracking.MlflowClient()
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or run.sweep
    experiment_id = _experiment(client, name)
    existing = _all_runs(client, experiment_id)
    parents = [r for r in existing if r.data.tags.get(KIND) == "sweep" and r.data.tags.get("sweep") == run.sweep]
    if parents:
        parent_id = parents[0].info.run_id
    else:
        parent_id = client.create_run(
            experiment_id, run_name=run.sweep, tags={KIND: "sweep", "sweep": run.sweep}
        ).info.run_id
    by_trial: dict[str, list] = {}
    for r in existing:
        if r.data.tags.get(KIND) == "trial":
            by_trial.setdefault(r.data.tags.get("trial_id", ""), []).append(r)
    written = unchanged = 0
    for t in run.trials:
        old = by_trial.get(t.trial_id, [])
        if len(old) == 1 and old[0].data.tags.get(ATTEMPT) == t.attempt and old[0].info.status != "RUNNING":
            unchanged += 1
            continue
        for r in old:  # a rerun trial (new attempt), or an export killed halfway: replace
            client.delete_run(r.info.run_id)
        _log_trial(client, entities, experiment_id, parent_id, t)
        written += 1
    for path in run.analysis_files():
        client.log_artifact(parent_id, str(path))  # same name: replaced
    client.set_terminated(parent_id, "FINISHED")
    return {
        "destination": f"{mlflow.get_tracking_uri()} experiment {name!r} (id {experiment_id})",
        "written": written,
        "unchanged": unchanged,
    }
