"""``optbasin run SWEEP --adaptive``: the sweep in rounds into one store, until nothing is left to
settle or a limit (``adaptive:`` in the sweep file, config.AdaptiveSpec) is reached.

Round 0 is the declared grid. After each round the store is analysed and the claims' sequential
states read (the analysis' ``sequential`` table, optbasin/analysis/sequential.py); points.plan_round says what the
next round adds (edges, basin edges, lr windows, seeds for open claims). Each round is a normal
run of TrialSpecs (sweep.execute: Ray Tune, the same store, trials already there skipped).

Resume-safe: a round's additions are a function of the store after the round before it (and the
sweep file); meta.json records each round's additions (``rounds``) before its trials run, so
``optbasin resume RUN_DIR`` after a kill (between or inside rounds) rebuilds every planned trial
from it, runs only what the store lacks, and plans the next round from the same store as the
killed run would have. Trials record ``round`` and ``added_for``; neither changes a trial's id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from optbasin.adaptive.points import Addition, plan_round
from optbasin.analysis.analyze import analyze, pair_states
from optbasin.config import AdaptiveSpec
from optbasin.sweeps.callback import Outcome
from optbasin.sweeps.lock import RunLock
from optbasin.sweeps.ray_session import ray_session
from optbasin.sweeps.run_status import round_line
from optbasin.sweeps.spec import trial_spec
from optbasin.sweeps.store import load_runs
from optbasin.sweeps.sweep import Plan, execute
from optbasin.training.trial_spec import TrialSpec

DECLARED = "declared grid"


@dataclass
class AdaptiveOutcome:
    outcome: Outcome  # the rounds' trials together (counts and errors of every round of this session)
    rounds: list[dict] = field(default_factory=list)
    stopped: str = ""


def is_adaptive(meta: dict | None) -> bool:
    """A run directory of an adaptive run (resume continues it in rounds)."""
    return bool(meta and meta.get("adaptive"))


def settings_of(p: Plan, meta: dict | None) -> AdaptiveSpec:
    """The limits: the sweep file's ``adaptive:`` (a resume reads the run's copy of it), else those the
    run recorded (it ran with --adaptive and no section), else the defaults. Running the sweep again
    with raised limits continues a run that stopped at one."""
    if p.spec.adaptive is not None:
        return p.spec.adaptive
    recorded = (meta or {}).get("adaptive")
    return AdaptiveSpec.model_validate(recorded) if recorded else AdaptiveSpec()


def planned_trials(p: Plan, declared: list[TrialSpec], rounds: list[dict]) -> list[TrialSpec]:
    """Every trial of the rounds recorded: the declared grid, then each round's additions."""
    tasks = {t.key: t for t in p.spec.tasks}
    opts = {o.key: o for o in p.spec.optimizers}
    trials, ids = list(declared), {t.trial_id for t in declared}
    for r in rounds[1:]:
        for a in map(Addition.from_json, r["added"]):
            for seed in a.seeds:
                t = trial_spec(p.spec, p.catalog, tasks[a.task], opts[a.optimizer], a.point, seed)
                t = t.model_copy(update={"round": r["round"], "added_for": a.why})
                if t.trial_id not in ids:
                    ids.add(t.trial_id)
                    trials.append(t)
    return trials


def within_budget(additions: list[Addition], room: int) -> tuple[list[Addition], bool]:
    """The additions, in order, while their trials fit in ``room`` (True when some did not). A
    claim's new seeds come whole: every point of both cells of its pair, or none (a seed run on part
    of a grid would have its best and basin taken over a different grid than the other seeds', and
    a seed run by one optimizer of the pair only is not paired), so the cut falls between one grid
    point and the next, or between one claim's new seeds and the next claim's."""
    out, used = [], 0
    for unit in budget_units(additions):
        n = sum(len(a.seeds) for a in unit)
        if used + n > room:
            return out, True
        out += unit
        used += n
    return out, False


def budget_units(additions: list[Addition]) -> list[list[Addition]]:
    """Consecutive additions that stand or fall together: each new point alone; one claim's new
    seeds in the cells of its pair (points.seed_additions lists them together, one reason) as one
    unit."""
    units: list[list[Addition]] = []
    for a in additions:
        last = units[-1][-1] if units else None
        same_seeds = (
            last is not None
            and a.why.startswith("seeds")
            and (a.task, a.seeds, a.why) == (last.task, last.seeds, last.why)
        )
        if same_seeds:
            units[-1].append(a)
        else:
            units.append([a])
    return units


def next_round(p: Plan, planned: list[TrialSpec], settings: AdaptiveSpec) -> tuple[list[Addition], list[str]]:
    """What the store's results ask for next (points.plan_round)."""
    trials, _ = load_runs([p.store.root], mark_running=False)  # the whole store: this round is complete
    analysis = analyze(
        trials,
        None,
        claims=p.spec.claims,
        settings={"level": settings.level},
        max_seeds=settings.max_seeds,
        catalog=p.catalog,
    )
    states = pair_states(analysis)
    return plan_round(p.spec, p.catalog, planned, analysis, states, settings)


def round_entry(number: int, additions: list[Addition], limit: str | None, notes: list[str]) -> dict:
    reasons = Counter()
    for a in additions:
        reasons[a.why] += len(a.seeds)
    return {
        "round": number,
        "trials": sum(reasons.values()),
        "added_for": dict(reasons),
        "limit": limit,
        "notes": notes,
        "added": [a.to_json() for a in additions],
    }


def limit_reached(p: Plan, rounds: list[dict], settings: AdaptiveSpec) -> str | None:
    if len(rounds) - 1 >= settings.max_rounds:
        return "max_rounds"
    elapsed = float((p.store.read_meta() or {}).get("elapsed_s") or 0.0)
    if settings.max_wall_s is not None and elapsed >= settings.max_wall_s:
        return "max_wall_s"
    return None


def record(p: Plan, **keys) -> None:
    """Update meta.json between rounds, holding the run directory's lock."""
    with RunLock(p.store.root):
        meta = p.store.read_meta() or {}
        meta.update(keys)
        p.store.write_meta(meta)


def run_adaptive(
    p: Plan,
    *,
    address: str | None = None,
    progress: bool = True,
    show_ray_logs: bool = False,
    on_commit: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> AdaptiveOutcome:
    """Run the plan in rounds (a fresh run, or the rest of an adaptive run: meta.json's rounds)."""
    meta = p.store.read_meta()
    settings = settings_of(p, meta)
    declared = list(p.trials)
    rounds = list((meta or {}).get("rounds") or [])
    if not rounds:
        rounds = [
            {
                "round": 0,
                "trials": len(declared),
                "added_for": {DECLARED: len(declared)},
                "limit": None,
                "notes": [],
                "added": [],
            }
        ]
    with ray_session(address, show_ray_logs):  # one Ray for every round (each execute joins it)
        return _rounds(
            p,
            settings,
            declared,
            rounds,
            log,
            dict(address=address, progress=progress, show_ray_logs=show_ray_logs, on_commit=on_commit),
        )


def _rounds(
    p: Plan,
    settings: AdaptiveSpec,
    declared: list[TrialSpec],
    rounds: list[dict],
    log: Callable[[str], None] | None,
    run_kw: dict,
) -> AdaptiveOutcome:
    total, first = Outcome(), True
    while True:
        planned = planned_trials(p, declared, rounds)
        p.trials = planned
        p.meta_extra = {"adaptive": settings.model_dump(), "rounds": rounds, "adaptive_stopped": None}
        merge(total, execute(p, **run_kw), first)
        first = False
        stopped = limit_reached(p, rounds, settings)
        if stopped:
            break
        additions, notes = next_round(p, planned, settings)
        additions, cut = within_budget(additions, settings.max_trials - len(planned))
        if not additions:
            stopped = "max_trials" if cut else ("settled" + (f" ({'; '.join(notes)})" if notes else ""))
            break
        rounds.append(round_entry(len(rounds), additions, "max_trials" if cut else None, notes))
        record(p, rounds=rounds)
        if log:
            log(round_line(rounds[-1]))
    record(p, adaptive_stopped={"reason": stopped, "after_round": len(rounds) - 1})
    if log:
        log(f"adaptive: stopped after round {len(rounds) - 1}: {stopped}")
    return AdaptiveOutcome(total, rounds, stopped)


def refuse_search(p: Plan, source: str) -> None:
    """An adaptive run extends a grid: a search plan is refused (ConfigError naming the file)."""
    if p.searching:
        from optbasin.errors import ConfigError, Problem

        raise ConfigError(
            [
                Problem(
                    source,
                    "search.method",
                    "--adaptive extends a grid: use method grid (or `optbasin refine` after a search)",
                )
            ]
        )


def run_plan(p: Plan, *, adaptive: bool = False, log: Callable[[str], None] | None = print, **run_kw) -> Outcome:
    """The one entry point of ``optbasin run`` / ``resume`` and of optbasin.run_sweep: the plan's
    trials (sweep.execute), or with ``adaptive`` the rounds of run_adaptive; run_kw: execute's."""
    if adaptive:
        return run_adaptive(p, log=log, **run_kw).outcome
    from optbasin.sweeps import sweep

    return sweep.execute(p, **run_kw)  # looked up here: tests replace sweep.execute


def merge(total: Outcome, one: Outcome, first: bool) -> None:
    for k, v in one.counts.items():
        total.counts[k] += v
    total.errors.update(one.errors)
    total.elapsed += one.elapsed
    if first:
        total.skipped = one.skipped
