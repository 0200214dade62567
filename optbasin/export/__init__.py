"""``optbasin export RUN_DIR --to mlflow | tensorboard | wandb``: a finished (or running) sweep's
trials in the user's experiment tracker. common.py reads the run; one module per tracker maps it
onto that tool. Each tracker's package is an optional extra (``pip install 'optbasin[mlflow]'``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from optbasin.errors import OptbasinError
from optbasin.export.common import MissingTracker, read_run, require

BACKENDS = {
    "mlflow": "optbasin.export.to_mlflow",
    "tensorboard": "optbasin.export.to_tensorboard",
    "wandb": "optbasin.export.to_wandb",
}
PACKAGES = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}


def export_run(
    run_dir: str | Path, to: str, out: str | Path | None = None, log: Callable[[str], None] = lambda m: None
) -> dict:
    """Export every trial of ``run_dir`` to tracker ``to``; returns {destination, trials, written,
    unchanged}. Raises MissingTracker when the tracker's package is absent."""
    if to not in BACKENDS:
        raise ValueError(f"unknown tracker {to!r}; one of {', '.join(BACKENDS)}")
    require(PACKAGES[to], to)  # before the run is read: a missing package is said at once
    if out is None and to == "tensorboard":
        raise OptbasinError("--to tensorboard: --out DIR is required (the log directory for tensorboard --logdir)")
    if out is not None and to != "tensorboard":
        raise OptbasinError(
            f"--out: only for --to tensorboard; {to} picks its destination itself "
            + ("(MLFLOW_TRACKING_URI)" if to == "mlflow" else "(WANDB_MODE, WANDB_DIR)")
        )
    backend = importlib.import_module(BACKENDS[to])
    with read_run(run_dir) as run:
        result = backend.export(run, None if out is None else str(out), log)
        return {"trials": len(run.trials), **result}


__all__ = ["BACKENDS", "MissingTracker", "export_run"]
