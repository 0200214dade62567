"""What every tracker gets from a run directory: one record per trial (hyperparameters, tags,
summary, per-step rows of steps.parquet) and the analysis tables as files (leaderboard,
verdicts). The backends (to_mlflow.py, to_tensorboard.py, to_wandb.py) only map these onto their tool."""

from __future__ import annotations

import importlib
import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optbasin.errors import OptbasinError

TAGS = ("sweep", "task", "optimizer", "seed", "trial_id")  # every backend's tags (plus status)
SUMMARY = ("init_loss", "final_train_loss", "final_val_loss", "best_val_loss", "steps_done", "wall_time", "cpu_time")
ANALYSIS_FILES = ("leaderboard.csv", "verdicts.csv", "verdicts_by_task.csv", "analysis.md")


class MissingTracker(OptbasinError):
    """The tracker's package is not installed (exit 2, naming the extra that installs it)."""


def require(module: str, extra: str):
    """Import ``module`` or raise MissingTracker naming ``pip install 'optbasin[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingTracker(
            f"--to {extra}: the package {module.split('.')[0]!r} is not installed ({e}); "
            f"install it with: pip install 'optbasin[{extra}]'"
        ) from None


@dataclass
class TrialRecord:
    trial_id: str
    name: str  # "task/optimizer seed=S lr=..." (a readable run name)
    status: str  # completed | diverged | failed
    attempt: str  # the store's attempt id: a rerun trial has a new one
    params: dict[str, Any]  # hyperparameters (hp.<name> without the prefix), task and optimizer
    tags: dict[str, str]  # TAGS + status
    summary: dict[str, float]  # finite summary values (SUMMARY)
    steps: pd.DataFrame  # one row per logged step: step + numeric columns (train_loss, val_loss, lr, diag.*)
    error: str = ""
    metrics: list[str] = field(default_factory=list)  # the step columns, in order

    def step_values(self) -> Iterator[tuple[int, dict[str, float]]]:
        """(step, {metric: value}) per logged step, finite values only (val_loss is logged at
        evaluation steps only; a diverged step's inf is left out, its status says why)."""
        for row in self.steps.itertuples(index=False):
            values = {m: float(v) for m, v in zip(self.metrics, row[1:]) if _finite(v)}
            if values:
                yield int(row[0]), values


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


@dataclass
class RunExport:
    """A run directory read for export."""

    run_dir: Path
    sweep: str
    trials: list[TrialRecord]
    analysis_dir: Path  # leaderboard.csv, verdicts.csv, verdicts_by_task.csv, analysis.md

    def analysis_files(self) -> list[Path]:
        return [self.analysis_dir / n for n in ANALYSIS_FILES if (self.analysis_dir / n).exists()]


def _run_name(t: dict[str, Any], swept: list[str]) -> str:
    hp = " ".join(f"{k}={_short(t.get(f'hp.{k}'))}" for k in swept)
    return f"{t['task']}/{t['optimizer']} seed={t['seed']}" + (f" {hp}" if hp else "")


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def records(trials: pd.DataFrame, steps: pd.DataFrame, sweep: str) -> list[TrialRecord]:
    """One TrialRecord per trial (the store's last attempt of each), in trial_id order."""
    if trials.empty:
        return []
    by_trial = {tid: g for tid, g in steps.groupby("trial_id", sort=False)} if not steps.empty else {}
    out = []
    for t in trials.sort_values("trial_id").to_dict("records"):
        swept = json.loads(t["swept"]) if isinstance(t.get("swept"), str) and t["swept"] else []
        hp = {k.removeprefix("hp."): _plain(v) for k, v in t.items() if k.startswith("hp.") and not _missing(v)}
        s = by_trial.get(t["trial_id"], pd.DataFrame({"step": []}))
        metrics = [
            c
            for c in s.columns
            if c not in ("trial_id", "attempt", "step")
            and pd.api.types.is_numeric_dtype(s[c])
            and not pd.api.types.is_bool_dtype(s[c])
        ]
        s = s.sort_values("step")[["step", *metrics]]
        tags = {k: str(t.get(k, sweep if k == "sweep" else "")) for k in TAGS} | {"status": str(t["status"])}
        out.append(
            TrialRecord(
                trial_id=t["trial_id"],
                name=_run_name(t, swept),
                status=str(t["status"]),
                attempt=str(t["attempt"]),
                params={"task": t["task"], "optimizer": t["optimizer"], "seed": _plain(t["seed"]), **hp},
                tags=tags,
                summary={k: float(t[k]) for k in SUMMARY if k in t and _finite(t[k])},
                steps=s,
                error=str(t.get("error") or ""),
                metrics=metrics,
            )
        )
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@contextmanager
def read_run(run_dir: str | Path) -> Iterator[RunExport]:
    """Read ``run_dir`` (StoreError for a directory that is not a run) and write its analysis
    tables to a temporary directory that lives as long as the context."""
    from optbasin.analysis import analyze_runs
    from optbasin.analysis.markdown import render_markdown
    from optbasin.sweeps.store import ResultsStore, load_runs

    run_dir = Path(run_dir)
    trials, steps = load_runs([run_dir])
    meta = ResultsStore(run_dir).read_meta() or {}
    sweep = meta.get("sweep") or (str(trials["sweep"].iloc[0]) if "sweep" in trials and len(trials) else run_dir.name)
    result = analyze_runs([run_dir])
    with tempfile.TemporaryDirectory(prefix="optbasin-export-") as tmp:
        d = Path(tmp)
        result.leaderboard.to_csv(d / "leaderboard.csv", index=False)
        result.verdicts.to_csv(d / "verdicts.csv", index=False)
        result.verdicts_by_task.to_csv(d / "verdicts_by_task.csv", index=False)
        (d / "analysis.md").write_text(render_markdown(result))
        yield RunExport(run_dir, sweep, records(trials, steps, sweep), d)
