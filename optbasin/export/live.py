"""Trackers live during a run: a sweep file's ``trackers: [mlflow, tensorboard, wandb]`` exports
the run directory while trials commit (the same export as ``optbasin export``, which skips or
replaces what is already there) and once more at the end. Like the live report, at most every
10 s and never more than ~10% of the driver's time. TensorBoard writes to RUN_DIR/tensorboard;
MLflow and W&B go where their environment variables say."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from optbasin.export import PACKAGES, export_run
from optbasin.export.common import require


def check(trackers: list[str]) -> None:
    """Before the sweep starts: every tracker's package is installed (MissingTracker otherwise)."""
    for t in trackers:
        require(PACKAGES[t], t)


def export_all(run_dir: Path, trackers: list[str]) -> None:
    for t in trackers:
        export_run(run_dir, t, out=run_dir / "tensorboard" if t == "tensorboard" else None)


def throttled(run_dir: Path, trackers: list[str], also: Callable[[], None] | None = None) -> Callable[[], None]:
    """The run's on_commit callback: ``also()`` (e.g. the live report) first, then the export."""
    state = {"next": 0.0}

    def refresh() -> None:
        if also is not None:
            also()
        now = time.monotonic()
        committed = any((run_dir / "trials.parquet").glob("part-*"))  # the sweep's start: nothing yet
        if committed and now >= state["next"]:
            export_all(run_dir, trackers)
            state["next"] = now + max(10.0, 10 * (time.monotonic() - now))

    return refresh
