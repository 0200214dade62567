"""Weights & Biases: one W&B run per trial in the project named by WANDB_PROJECT (default: the
sweep's name), grouped by sweep, with the trial's hyperparameters and tags in its config, its
tags, its per-step history, its summary and status; one more run, ``<sweep>-analysis``, logs the
leaderboard and verdicts as an artifact. W&B's own settings pick the destination: WANDB_MODE
(``offline`` writes under WANDB_DIR, for ``wandb sync`` later), WANDB_DIR, WANDB_ENTITY, an API key
for online mode. Idempotent: a trial's run id is its trial_id, so exporting again resumes the same
run (W&B ignores history steps it already has); in offline mode an earlier offline copy of that
run under WANDB_DIR is replaced, so each trial has one."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from optbasin.export.common import RunExport, TrialRecord, require


def _offline() -> bool:
    return os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun")


def _drop_offline_copies(wandb_dir: Path, run_id: str) -> None:
    for old in wandb_dir.glob(f"wandb/offline-run-*-{run_id}"):
        shutil.rmtree(old, ignore_errors=True)


def analysis_run_id(sweep: str) -> str:
    """W&B ids allow letters, digits, '-' and '_': the sweep's name cleaned, plus a hash of it."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', sweep)[:40]}-analysis-{hashlib.sha256(sweep.encode()).hexdigest()[:8]}"


def _init(wandb, project: str, run_id: str, **kw):
    settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, x_disable_meta=True)
    return wandb.init(project=project, id=run_id, resume="allow", reinit="finish_previous", settings=settings, **kw)


def _log_trial(wandb, project: str, group: str, t: TrialRecord):
    tags = [f"{k}:{v}"[:64] for k, v in t.tags.items()]
    r = _init(
        wandb,
        project,
        t.trial_id,
        name=t.name,
        group=group,
        job_type=str(t.params["task"]),
        config={**t.params, **{k: v for k, v in t.tags.items() if k not in t.params}},
        tags=tags,
    )
    for step, values in t.step_values():
        r.log(values, step=step)
    r.summary.update({**t.summary, "status": t.status, **({"error": t.error} if t.error else {})})
    r.finish(exit_code=1 if t.status == "failed" else 0)
    return r


def export(run: RunExport, out: str | None, log: Callable[[str], None]) -> dict:
    wandb = require("wandb", "wandb")
    project = os.environ.get("WANDB_PROJECT") or re.sub(r"[/\\#?%:]", "-", run.sweep)
    wandb_dir = Path(os.environ.get("WANDB_DIR") or ".")
    offline = _offline()
    ids = [t.trial_id for t in run.trials] + [analysis_run_id(run.sweep)]
    if offline:
        for run_id in ids:
            _drop_offline_copies(wandb_dir, run_id)
    for t in run.trials:
        _log_trial(wandb, project, run.sweep, t)
    r = _init(
        wandb,
        project,
        ids[-1],
        name=f"{run.sweep} analysis",
        group=run.sweep,
        job_type="analysis",
        config={"sweep": run.sweep, "trials": len(run.trials)},
        tags=[f"sweep:{run.sweep}"[:64]],
    )
    artifact = wandb.Artifact(f"{ids[-1]}", type="analysis", description=f"optbasin analysis of sweep {run.sweep!r}")
    for path in run.analysis_files():
        artifact.add_file(str(path))
    r.log_artifact(artifact)
    r.finish()
    where = f"offline under {wandb_dir.resolve() / 'wandb'} (wandb sync to upload)" if offline else "W&B"
    return {"destination": f"project {project!r}, {where}", "written": len(run.trials), "unchanged": 0}
