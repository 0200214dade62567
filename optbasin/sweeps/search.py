"""Adaptive search (``search: {method: optuna}``) and the ``refine`` step that follows it.

Search: for each task x optimizer, Ray Tune's OptunaSearch (TPE, seeded) samples ``trials``
points on the first seed. The space comes from the optimizer's grid: ``{log_range: [lo, hi]}``
becomes a log-uniform range, a list of values a categorical choice. Results go to the same
store as grid trials (source "search"); a resumed search feeds earlier results back to TPE.

Refine: lay a robustness grid around each optimizer's best point: lr log-spaced over
+-``decades`` around the best lr, the other searched hyperparameters fixed at their best
values, every seed of the sweep. It writes ``refine.yaml`` into the run directory (a plain sweep
file, same name) and runs it into the same store, its trials with source "refine" (a refine point
equal to a search point is that trial, kept as it is: the source does not change trial ids).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from optbasin.config import LogRange, SweepSpec
from optbasin.sweeps.callback import Outcome
from optbasin.sweeps.progress import Progress
from optbasin.sweeps.provenance import sources
from optbasin.sweeps.ray_session import ray_session
from optbasin.sweeps.runner import tune_run
from optbasin.sweeps.spec import trial_spec
from optbasin.sweeps.store import ResultsStore
from optbasin.sweeps.trainable import objective
from optbasin.training.trial_spec import TrialSpec


def search_space(entry_grid: dict[str, Any]) -> dict[str, Any]:
    from ray import tune

    space = {}
    for name, axis in entry_grid.items():
        if isinstance(axis, LogRange):
            lo, hi = axis.log_range
            space[name] = tune.loguniform(lo, hi) if hi > lo else tune.choice([lo])
        else:
            space[name] = tune.choice(list(axis))
    return space


def search_trials(spec: SweepSpec) -> int:
    """How many trials a search runs: ``trials`` per task x optimizer with a grid, on the first seed."""
    return len(spec.tasks) * sum(1 for o in spec.optimizers if o.grid) * spec.search.trials


def run_search(
    spec: SweepSpec,
    catalog: Any,
    store: ResultsStore,
    *,
    address: str | None = None,
    progress: bool = True,
    show_ray_logs: bool = False,
    on_commit: Callable[[], None] | None = None,
) -> Outcome:
    """TPE search per task x optimizer, ``spec.search.trials`` trials each (fewer if resumed)."""
    from ray.tune.search.optuna import OptunaSearch

    outcome = Outcome()
    seed = spec.seeds[0]
    done = store.trials()
    todo = []
    for t in spec.tasks:
        for o in spec.optimizers:
            base = trial_spec(spec, catalog, t, o, {}, seed).model_copy(update={"source": "search"})
            prior = _prior(done, base, list(o.grid))
            outcome.skipped += len(prior)
            if spec.search.trials > len(prior) and o.grid:
                todo.append((base, o, prior))
    if not todo:
        return outcome
    with ray_session(address, show_ray_logs):  # one Ray for every task x optimizer's search
        for base, o, prior in todo:
            searcher = OptunaSearch(
                metric="loss",
                mode="min",
                seed=0,
                points_to_evaluate=[p for p, _ in prior] or None,
                evaluated_rewards=[r for _, r in prior] or None,
            )
            remaining = spec.search.trials - len(prior)
            view = Progress(remaining, enabled=progress)
            tune_run(
                {"specs": [base.model_dump()], "hp": search_space(o.grid)},
                base,
                store,
                view,
                outcome,
                retries=spec.retries,
                address=address,
                show_ray_logs=show_ray_logs,
                on_commit=on_commit,
                search_alg=searcher,
                num_samples=remaining,
            )
    return outcome


def _prior(done: Any, base: TrialSpec, names: list[str]) -> list[tuple[dict[str, Any], float]]:
    """Earlier search results of this task x optimizer: (sampled point, objective)."""
    if done.empty:
        return []
    rows = done[
        (done.task == base.task)
        & (done.optimizer == base.optimizer)
        & (sources(done) == "search")
        & done.status.isin(["completed", "diverged"])
    ]
    return [({n: r[f"hp.{n}"] for n in names}, objective(r.to_dict())) for _, r in rows.iterrows()]


def refine_sweep(spec: SweepSpec, store: ResultsStore, decades: float = 1.0, per_decade: int = 3) -> dict[str, Any]:
    """A sweep document: a grid around each optimizer's best point (see the module doc).

    With several tasks the lr grid spans every task's best lr +- ``decades`` (``per_decade``
    points a decade), so each task's optimum gets its own neighbourhood; the other searched
    hyperparameters are fixed at their values in the optimizer's best trial on the first task.
    """
    trials = store.trials()
    if trials.empty:
        raise ValueError(f"{store.root}: no results to refine around")
    trials = trials.assign(objective=[objective(r) for r in trials.to_dict("records")])
    doc = spec.model_dump(mode="json", exclude={"source", "kind", "search"}, exclude_defaults=True)
    doc["name"] = spec.name
    entries = []
    for o in spec.optimizers:
        rows = trials[trials.optimizer == o.key]
        if rows.empty:
            continue
        bests = rows.loc[rows.groupby("task", sort=False)["objective"].idxmin()]
        fixed = {n: _plain(bests.iloc[0][f"hp.{n}"]) for n in o.grid if n != "lr"}
        entries.append(
            {
                **o.model_dump(mode="json", exclude_defaults=True),
                "hparams": {**o.hparams, **fixed},
                "grid": {"lr": refine_lrs(bests["hp.lr"].tolist(), decades, per_decade)},
            }
        )
    doc["optimizers"] = entries
    return doc


def refine_lrs(best_lrs: list[float], decades: float, per_decade: int) -> list[float]:
    """The refine grid's lrs: log-spaced, ``per_decade`` a decade, through the first task's best lr
    exactly (so that point's seed is the search's own trial, not a near-duplicate of it) and
    spanning every task's best lr +- ``decades``; nothing is rounded."""
    anchor = float(best_lrs[0])
    lo, hi = min(best_lrs) / 10**decades, max(best_lrs) * 10**decades
    k_lo = math.floor(math.log10(lo / anchor) * per_decade + 1e-9)
    k_hi = math.ceil(math.log10(hi / anchor) * per_decade - 1e-9)
    return [anchor if k == 0 else anchor * 10 ** (k / per_decade) for k in range(k_lo, k_hi + 1)]


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


REFINE_FILE = "refine.yaml"


def write_refine(spec: SweepSpec, store: ResultsStore, decades: float, per_decade: int) -> Path:
    """Write RUN_DIR/refine.yaml and return its path."""
    path = store.root / REFINE_FILE
    path.write_text(
        "# written by `optbasin refine`: a grid around each optimizer's best point\n"
        + yaml.safe_dump(refine_sweep(spec, store, decades, per_decade), sort_keys=False)
    )
    return path


def as_refine(trials: list[TrialSpec]) -> list[TrialSpec]:
    """The refine grid's trials, marked as such (their ids stay those of the same points anywhere)."""
    return [t.model_copy(update={"source": "refine"}) for t in trials]


def is_refine_run(run_dir: str | Path, meta: dict[str, Any]) -> bool:
    """The run directory's last sweep was its refine grid (``refine`` makes RUN_DIR/refine.yaml the
    run's sweep file, which ``resume`` then runs)."""
    file = meta.get("sweep_file")
    return bool(file) and Path(file).resolve() == (Path(run_dir) / REFINE_FILE).resolve()
