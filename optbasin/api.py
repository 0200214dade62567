"""The Python API, for notebooks and scripts: run a sweep, open a run directory, analyse and plot.

    import optbasin
    run = optbasin.run_sweep("examples/quickstart.yaml")   # or a dict of the same fields
    run = optbasin.run_sweep("sweep.yaml", adaptive=True)    # in rounds, as `optbasin run --adaptive`
    run = optbasin.open_run("runs/quickstart")               # a finished (or running) sweep
    run.leaderboard()                                        # pandas, one row per task x optimizer
    run.per_seed("quadratic", "adamw")                       # every metric on each seed alone
    run.verdicts([{"name": ..., "metric": ..., "compare": [...], "direction": ...}])  # or a YAML path
    run.figure("quadratic-sensitivity-lr")                   # any report figure, a plotly Figure
    run.importance()                                         # Optuna's hyperparameter importance

A thin layer: the sweep runs as ``optbasin run`` runs it (sweeps.sweep), the tables and verdicts
are optbasin.analysis's, the figures those of the HTML report (dashboards.report.collect_figures).
Bad input raises optbasin.errors.ConfigError (its ``problems`` name the file, or "(sweep dict)"
for a dict, the field and what is allowed), as the CLI reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optbasin.config import MAX_TRIALS
from optbasin.errors import StoreError


def plan_sweep(
    sweep: dict | str | Path,
    *,
    output: str | Path | None = None,
    catalog: Sequence[str] = (),
    max_trials: int = MAX_TRIALS,
):
    """Validate and expand a sweep (a dict, or the path of a sweep YAML file); nothing is written.
    Returns the plan: ``.trials`` lists every trial, ``.store.root`` is the run directory."""
    from optbasin.analysis.claims import check_claim_metrics
    from optbasin.sweeps import sweep as S

    out = str(output) if output is not None else None
    if isinstance(sweep, dict):
        p = S.plan_doc(sweep, list(catalog), out, max_trials=max_trials)
    elif isinstance(sweep, (str, Path)):
        p = S.plan(sweep, list(catalog), out, max_trials=max_trials)
    else:
        raise TypeError(f"a sweep is a dict or the path of a sweep YAML file, got {type(sweep).__name__}")
    check_claim_metrics(p.spec.claims, S.DOC_LABEL if isinstance(sweep, dict) else str(sweep))
    return p


def run_sweep(
    sweep: dict | str | Path,
    *,
    output: str | Path | None = None,
    catalog: Sequence[str] = (),
    max_trials: int = MAX_TRIALS,
    progress: bool = True,
    address: str | None = None,
    adaptive: bool = False,
) -> Run:
    """Run a sweep (a dict or a sweep YAML path) through Ray Tune, as ``optbasin run`` does:
    trials already complete in its run directory are skipped. Returns the run directory opened
    (``Run``); ``run.outcome`` holds the counts and the errors of failed trials. ``adaptive``: in
    rounds within the sweep's ``adaptive:`` limits, as ``optbasin run --adaptive`` (the same
    driver, adaptive.driver.run_plan; README "Adaptive sweeps"); ``run.meta[0]["rounds"]`` says
    what each round added. An interrupt (Ctrl-C, the notebook's stop button) raises
    optbasin.errors.Interrupted once Ray has stopped; every finished trial is kept and
    ``run_sweep`` or ``optbasin resume`` continues."""
    from optbasin.adaptive.driver import refuse_search, run_plan
    from optbasin.sweeps import sweep as S
    from optbasin.sweeps.signals import StopRequest, stop_on_signals

    p = plan_sweep(sweep, output=output, catalog=catalog, max_trials=max_trials)
    if adaptive:
        refuse_search(p, S.DOC_LABEL if isinstance(sweep, dict) else str(sweep))
    with stop_on_signals(StopRequest()):
        outcome = run_plan(p, adaptive=adaptive, log=print if progress else None, address=address, progress=progress)
    run = open_run(p.store.root)
    run.outcome = outcome
    return run


def open_run(*run_dirs: str | Path, claims: Any = None, settings: Any = None) -> Run:
    """A run directory (several: merged, as ``optbasin report A B``) as a ``Run``. claims: a claims
    YAML path or a list of claim dicts (default: the sweep file's claims)."""
    return Run(run_dirs, claims=claims, settings=settings)


class Run:
    """One or more run directories, read once (``refresh()`` rereads a running sweep). Every table
    is a pandas DataFrame and every figure a plotly Figure (they draw inline in Jupyter)."""

    def __init__(self, run_dirs: Sequence[str | Path], claims: Any = None, settings: Any = None):
        from optbasin.analysis import read_meta

        if isinstance(run_dirs, (str, Path)):
            run_dirs = [run_dirs]
        self.dirs = [Path(d) for d in run_dirs]
        if not self.dirs:
            raise TypeError("open_run needs at least one run directory")
        for d in self.dirs:
            if not (d / "meta.json").is_file():
                raise StoreError(f"{d}: not an optbasin run directory (no meta.json)")
        self.meta = [read_meta(d) for d in self.dirs]
        self.claims, self.settings = claims, settings
        self.outcome = None  # set by run_sweep
        self.refresh()

    def refresh(self) -> Run:
        """Reread the results (a sweep that is still running has written more)."""
        from optbasin.sweeps.store import load_runs

        self._raw, self.steps = load_runs(self.dirs)
        self._analysis = None
        self._figures = None
        return self

    def __repr__(self) -> str:
        t = self._raw
        what = (
            f"{len(t)} trials, {t['task'].nunique()} task(s), {t['optimizer'].nunique()} optimizer(s)"
            if not t.empty
            else "no trials yet"
        )
        return f"Run({', '.join(str(d) for d in self.dirs)}: {what})"

    # ---- tables --------------------------------------------------------------------------
    @property
    def analysis(self):
        """The full optbasin.analysis.Analysis (every table the report draws)."""
        if self._analysis is None:
            self._analysis = self._analyze(self.claims)
        return self._analysis

    def _analyze(self, claims: Any):
        from optbasin.analysis import analyze
        from optbasin.analysis.analyze import run_inputs

        return analyze(self._raw, self.steps, **run_inputs(self.dirs, claims, self.settings))

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: hyperparameters (hp.*), status, losses, and the analysis' loss (l0 for
        diverged and failed trials), l0, diverged, failed, point_id."""
        return self.analysis.trials

    def leaderboard(self) -> pd.DataFrame:
        """One row per task x optimizer: every robustness metric with its bootstrap interval."""
        return self.analysis.leaderboard

    def per_seed(self, task: str | None = None, optimizer: str | None = None) -> pd.DataFrame:
        """Every metric of each task x optimizer on each seed alone (the values the claims' paired
        tests compare), one row per task x optimizer x seed; ``ran`` is False for a seed with no
        trial. Filter with ``task`` and ``optimizer``."""
        rows = []
        for (t, o), res in sorted(self.analysis.per_seed.items()):
            if (task is None or t == task) and (optimizer is None or o == optimizer):
                frame = pd.DataFrame(
                    {
                        "task": t,
                        "optimizer": o,
                        "seed": res.group.seeds,
                        "ran": res.ran,
                        **{col: v for col, v in res.values.items()},
                    }
                )
                rows.append(frame)
        if not rows:
            known = ", ".join(f"{t}/{o}" for t, o in sorted(self.analysis.per_seed)) or "(none)"
            raise KeyError(f"no task x optimizer matches task={task!r}, optimizer={optimizer!r}; known: {known}")
        return pd.concat(rows, ignore_index=True)

    def verdicts(self, claims: Any = None, by_task: bool = False) -> pd.DataFrame:
        """The verdict of each claim (a list of claim dicts, a claims YAML path; default the claims
        this Run was opened with, else the sweep file's). by_task: one row per claim x task."""
        a = self.analysis if claims is None else self._analyze(claims)
        return a.verdicts_by_task if by_task else a.verdicts

    def importance(self) -> pd.DataFrame:
        """Optuna's hyperparameter importance of each optimizer over its swept axes (only where it
        swept more than one): task, optimizer, param, importance (summing to 1), evaluator."""
        return self.analysis.importance

    def notes(self) -> list[str]:
        return list(self.analysis.notes)

    # ---- figures -------------------------------------------------------------------------
    def figures(self) -> dict:
        """Every figure of the HTML report, by name (e.g. "quadratic-sensitivity-lr")."""
        if self._figures is None:
            from optbasin.dashboards.report import collect_figures

            self._figures = {key: fig for _, key, fig in collect_figures(self.analysis, self.steps)}
        return self._figures

    def figure(self, name: str):
        """One report figure by name; a KeyError lists the names there are."""
        figs = self.figures()
        if name not in figs:
            raise KeyError(f"no figure {name!r}; this run has: {', '.join(figs) or '(none)'}")
        return figs[name]

    def report(self, out: str | Path | None = None) -> Path:
        """Write the HTML report (default RUN_DIR/report.html), as ``optbasin report``."""
        from optbasin.dashboards import write_report

        return write_report(self.dirs, out or self.dirs[0] / "report.html", claims=self.claims, settings=self.settings)
