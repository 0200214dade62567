"""``analyze``: trials (+ steps) -> leaderboard, claim verdicts, curves. The CLI's entry point."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from optbasin.analysis import curves as C
from optbasin.analysis.bootstrap import distinct_rows, interval, seed_counts
from optbasin.analysis.budgets import separate_settings
from optbasin.analysis.claims import (
    Claim,
    claim_spec,
    claims_from_sweep_yaml,
    evaluate_claims,
    load_claims,
    parse_claims,
)
from optbasin.analysis.grid import LR, all_nan_quiet, build_groups, index_points
from optbasin.analysis.importance import COLUMNS as IMPORTANCE_COLUMNS
from optbasin.analysis.importance import importance_table
from optbasin.analysis.loss_table import hp_columns, loss_table
from optbasin.analysis.profiles import performance_profile
from optbasin.analysis.robustness import group_metrics, medians, seed_values
from optbasin.analysis.search_points import split_search, with_search
from optbasin.analysis.sequential import COLUMNS as SEQUENTIAL_COLUMNS
from optbasin.analysis.sequential import PairState, seeds_added_after_looking, sequential_states, states_table
from optbasin.analysis.settings import AnalysisSettings, make_settings
from optbasin.analysis.specs import MetricSpec, default_specs
from optbasin.analysis.trend import COLUMNS as TREND_COLUMNS
from optbasin.analysis.trend import SIZE_COLUMNS as TREND_SIZE_COLUMNS
from optbasin.analysis.trend import trend_tables
from optbasin.catalog import Catalog, CatalogNote
from optbasin.config import HParamDef
from optbasin.errors import ConfigError

TABLES = (
    "leaderboard",
    "verdicts",
    "verdicts_by_task",
    "points",
    "curves",
    "basins",
    "surfaces",
    "best_along",
    "expected_best",
    "profiles",
    "mechanisms",
    "failed",
    "importance",
    "sequential",
    "trend",
    "trend_sizes",
)


@dataclass
class Analysis:
    """Everything ``analyze`` computes, as plain DataFrames (columns documented where each table
    is built: robustness.py for the leaderboard metrics, curves.py for the views)."""

    settings: AnalysisSettings
    leaderboard: pd.DataFrame  # one row per task x optimizer
    verdicts: pd.DataFrame  # one row per claim
    trials: pd.DataFrame  # per trial: loss, l0, diverged, failed, source, point_id (-1: search point apart)
    points: pd.DataFrame  # per grid point: loss over seeds, diagnostics
    curves: pd.DataFrame  # sensitivity curves along every swept axis
    basins: pd.DataFrame  # basin along every axis at every tolerance
    surfaces: pd.DataFrame  # lr x other-axis grids
    best_along: pd.DataFrame  # best loss at each value of a non-lr axis
    expected_best: pd.DataFrame  # Dodge curves (k, expected best, sd)
    profiles: pd.DataFrame  # performance profiles across tasks
    mechanisms: pd.DataFrame  # diag medians per grid point (NAMO-D clamping, Momo truncation)
    failed: pd.DataFrame  # failed trials, with their error
    verdicts_by_task: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per claim x task
    importance: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=IMPORTANCE_COLUMNS))  # importance.py
    # anytime-valid state per claim x task (sequential.py), beside the fixed-design verdicts
    sequential: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SEQUENTIAL_COLUMNS))
    # each claim's effect against log10 N across the sizes of one task family (trend.py)
    trend: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TREND_COLUMNS))
    trend_sizes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TREND_SIZE_COLUMNS))
    search: pd.DataFrame = field(default_factory=pd.DataFrame)  # search trials off the grid (search_points.py)
    # seeds were added where a claim was open (an adaptive run): the sequential states are the decision
    adaptive_seeds: bool = False
    notes: list[str] = field(default_factory=list)
    replicates: dict = field(default_factory=dict, repr=False)  # (task, opt) -> {column: (R,)}
    per_seed: dict = field(default_factory=dict, repr=False)  # (task, opt) -> GroupResult, one row per seed

    def to_text(self) -> str:
        from optbasin.analysis.text import render_text

        return render_text(self)

    def write(self, out_dir: str | Path) -> list[Path]:
        """One CSV per table, plus notes.txt and settings.json; returns the paths written."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in TABLES:
            path = out / f"{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            paths.append(path)
        (out / "notes.txt").write_text("\n".join(self.notes) + "\n")
        (out / "settings.json").write_text(self.settings.model_dump_json(indent=2))
        return paths + [out / "notes.txt", out / "settings.json"]

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "settings": self.settings.model_dump(),
            "notes": self.notes,
            "adaptive_seeds": self.adaptive_seeds,
        }
        for name in TABLES:
            doc[name] = getattr(self, name).to_dict(orient="records")
        return _plain(doc)

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path


def _plain(x: Any) -> Any:
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if x is pd.NA or x is pd.NaT:
        return None
    return x


def _claims(claims: Any) -> list[Claim]:
    if claims is None:
        return []
    if isinstance(claims, (str, Path)):
        return load_claims(claims)
    items = list(claims)
    if all(isinstance(c, Claim) for c in items):
        return items
    return parse_claims([c.model_dump() if isinstance(c, Claim) else c for c in items], "(claims)")


def _specs(settings: AnalysisSettings, claims: list[Claim]) -> list[MetricSpec]:
    specs: dict[str, MetricSpec] = {}
    for spec in default_specs(settings) + [claim_spec(c, settings) for c in claims]:
        specs.setdefault(spec.column, spec)
    return list(specs.values())


def analyze(
    trials: pd.DataFrame,
    steps: pd.DataFrame | None = None,
    claims: Sequence[Claim] | Sequence[dict] | str | Path | None = None,
    settings: AnalysisSettings | dict | None = None,
    max_seeds: int | None = None,
    catalog: Catalog | None = None,
) -> Analysis:
    """Robustness metrics of every optimizer on every task, with bootstrap intervals over seeds,
    and the verdict of every claim. trials/steps: as returned by sweeps.store.load_runs.
    max_seeds: an adaptive sweep's seed limit, against which the sequential states judge futility.
    catalog: the optimizers' declared hyperparameters (catalog_from_runs); an optimum at a closed
    bound it declares (NAMO-D's c = 1) is not flagged as on the grid's edge. None: every grid edge is."""
    s = make_settings(settings)
    claim_list = _claims(claims)
    specs = _specs(s, claim_list)
    if trials is None or trials.empty:
        empty = pd.DataFrame()
        verdicts, by_task = evaluate_claims(claim_list, empty, {}, s)
        return Analysis(
            s,
            empty,
            verdicts,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            verdicts_by_task=by_task,
            notes=["no trials recorded yet"],
        )

    trials, running = without_running_rounds(trials)
    trials, notes = separate_settings(trials)  # one label, several budgets: several tasks
    notes = running + notes
    lt, search, search_notes = split_search(loss_table(trials))
    notes += search_notes
    lt, points = index_points(lt)
    groups = build_groups(lt, points)
    names = lt.groupby(["task", "optimizer"])["optimizer_name"].first()
    rows, reps, seedvals, dodge = [], {}, {}, []
    for task in sorted({g.task for g in groups}):
        task_groups = [g for g in groups if g.task == task]
        m = len(task_groups[0].seeds)
        counts = seed_counts(m, s.resamples, s.seed, task)
        count_rows, inverse = distinct_rows(counts)
        eye = np.eye(m, dtype=np.int64)
        # the task's best l* in every row: the reference of task-wide basin tolerances
        meds = [medians(g, count_rows) for g in task_groups]
        seed_meds = [medians(g, eye) for g in task_groups]
        task_best = all_nan_quiet(np.nanmin, [md[2] for md in meds], axis=0)
        task_best_seed = all_nan_quiet(np.nanmin, [md[2] for md in seed_meds], axis=0)
        for g, md, seed_md in zip(task_groups, meds, seed_meds):
            res = group_metrics(g, count_rows, specs, s, task_best, md)
            expanded = {col: v[1:][inverse] for col, v in res.values.items()}  # (resamples,) each
            reps[(g.task, g.optimizer)] = expanded
            seedvals[(g.task, g.optimizer)] = seed_values(g, specs, s, task_best_seed, seed_md)
            entry = catalog.optimizers.get(names.get((g.task, g.optimizer), "")) if catalog else None
            hdefs = entry.hyperparameters if entry is not None else {}
            row = _leaderboard_row(g, res, expanded, seedvals[(g.task, g.optimizer)], specs, s, hdefs, notes)
            rows.append(row)
            dodge.append(C.expected_best_curve(g, s.curve_points))
    leaderboard = pd.DataFrame(rows)
    leaderboard.insert(
        2, "optimizer_name", [names.get((t, o), "") for t, o in zip(leaderboard["task"], leaderboard["optimizer"])]
    )

    axes = {(g.task, g.optimizer): g.axes for g in groups}
    best_ids = [int(g.points["point_id"].iloc[r["_best"]]) for g, r in zip(groups, rows)]
    leaderboard = leaderboard.drop(columns="_best")
    diag = C.diagnostics_by_point(lt, steps)
    if not diag.empty:
        points = points.merge(diag, on="point_id", how="left")
    best = points.set_index("point_id").loc[best_ids].reset_index()
    curves = C.sensitivity_curves(points, best, axes)
    basin_specs = [sp for sp in specs if sp.name == "basin_width" and sp.scope == "own"]
    primary = MetricSpec("basin_width", eps=s.eps[0]).column
    profile_metrics = [
        ("best_loss", True),
        (primary, False),
        (f"expected_best_k{s.ks[-1]}", True),
        ("tunability_uniform", True),
    ]
    every = with_search(lt, search)
    failed = every.loc[every["failed"], ["trial_id", "task", "optimizer", "seed", *hp_columns(lt), "status", "error"]]
    if len(failed):
        notes.append(f"{len(failed)} failed trial(s) counted as l0 in every metric; see the failed table")
    diag_cols = [c for c in points.columns if c.startswith("diag.")]
    mechanisms = points[points[diag_cols].notna().any(axis=1)] if diag_cols else pd.DataFrame()
    if diag_cols:
        mechanisms = mechanisms[["task", "optimizer", *hp_columns(points), *diag_cols, "n_seeds", "median"]]

    verdicts, by_task = evaluate_claims(claim_list, leaderboard, seedvals, s)
    adaptive = seeds_added_after_looking(trials)
    trend, trend_sizes = trend_tables(claim_list, by_task, leaderboard, seedvals, trials, s, adaptive)
    return Analysis(
        settings=s,
        leaderboard=leaderboard,
        verdicts=verdicts,
        verdicts_by_task=by_task,
        trials=every,
        search=search,
        points=points,
        curves=curves,
        basins=C.axis_basins(curves, basin_specs),
        surfaces=C.surfaces(points, best, axes),
        best_along=C.best_along(points, axes),
        expected_best=pd.concat(dodge, ignore_index=True),
        profiles=pd.concat([performance_profile(leaderboard, c, low) for c, low in profile_metrics], ignore_index=True),
        mechanisms=mechanisms.reset_index(drop=True),
        failed=failed.reset_index(drop=True),
        importance=importance_table(points, axes),
        notes=collapse_notes((ADAPTIVE_NOTE if claim_list and adaptive else []) + notes),
        replicates=reps,
        per_seed=seedvals,
        sequential=states_table(sequential_states(claim_list, leaderboard, seedvals, s, max_seeds)),
        adaptive_seeds=adaptive,
        trend=trend,
        trend_sizes=trend_sizes,
    )


def without_running_rounds(trials: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The trials less those of an adaptive round still running (sweeps.store.running_round), and a
    note per run saying so."""
    if "running_round" not in trials or not trials["running_round"].any():
        return trials, []
    running = trials["running_round"].astype(bool)
    notes = [
        f"{sweep}: adaptive round {int(r['round'].min())} is still running; its {len(r)} trial(s) in the "
        "store are left out until the round completes (an adaptive run is judged at its last complete "
        "round, as the sweep judges it)"
        for sweep, r in trials[running].groupby(trials.get("sweep", pd.Series("run", index=trials.index))[running])
    ]
    return trials[~running].reset_index(drop=True), notes


ADAPTIVE_NOTE = [
    "seeds were added where a claim was still open (an adaptive run): the decisions are the sequential "
    "table's anytime-valid states; the fixed-design verdicts assume seeds fixed in advance and do not "
    "hold their level here (read them as descriptive effects)"
]


def collapse_notes(notes: list[str]) -> list[str]:
    """Notes "task/optimizer: text" with one text for several optimizers become one note naming
    them all (in the first one's place), so boilerplate such as "time_per_step undefined" is said once."""
    whos: dict[str, list[str]] = {}
    for n in notes:
        who, sep, text = n.partition(": ")
        if sep and "/" in who:
            whos.setdefault(text, []).append(who)
    out, said = [], set()
    for n in notes:
        who, sep, text = n.partition(": ")
        if not (sep and "/" in who) or len(whos[text]) == 1:
            out.append(n)
        elif text not in said:
            said.add(text)
            out.append(f"{', '.join(whos[text])}: {text}")
    return out


def _leaderboard_row(
    g, res, reps: dict, per_seed, specs, s: AnalysisSettings, hdefs: dict[str, HParamDef], notes: list[str]
) -> dict[str, Any]:
    who = f"{g.task}/{g.optimizer}"
    present = np.isfinite(g.loss)
    seeds_here = present.any(axis=0)
    n_points = len(g.points)
    missing = int(n_points * seeds_here.sum() - present[:, seeds_here].sum())
    bp = g.points.iloc[res.best_point]
    edges = open_edges(res.edges, bp, hdefs)
    row: dict[str, Any] = {
        "task": g.task,
        "optimizer": g.optimizer,
        "_best": res.best_point,
        "trials": len(g.trial_loss),
        "seeds": int(seeds_here.sum()),
        "points": n_points,
        "missing_trials": missing,
        "diverged": int(g.trial_diverged.sum()),
        "failed": int(g.points["n_failed"].sum()),
        "l0": g.l0,
        "l_ref": g.l_ref,
        "l_min": g.l_min,
        "best_lr": float(bp[LR]) if LR in bp and pd.notna(bp[LR]) and present.any() else np.nan,
        "best_point": json.dumps({a.removeprefix("hp."): _plain(bp[a]) for a in g.axes}),
        "best_seeds": int(bp["n_seeds"]),
        "best_at_edge": ",".join(edges) if present.any() else "",  # no loss at all: no best point
    }
    cols = [spec.column for spec in specs]
    los, his = interval(np.vstack([reps[c] for c in cols]), s.confidence)
    for spec, lo, hi in zip(specs, los, his):
        col = spec.column
        row[col] = float(res.values[col][0])
        row[col + "_lo"], row[col + "_hi"] = float(lo), float(hi)
        if col in res.basins:
            b = res.basins[col]
            row[col + "_cut"] = "+".join(side for side, cut in (("low", b["cut_low"]), ("high", b["cut_high"])) if cut)
            row[col + "_lr_low"], row[col + "_lr_high"] = b["low"], b["high"]
            row[col + "_disjoint"] = b["disjoint"]
            row[col + "_min"], row[col + "_max"] = b["width_min"], b["width_max"]  # what the grid allows
        elif col in res.cuts:
            row[col + "_cut"] = "range" if res.cuts[col][0] else ""
        if spec.name == "lr_sensitivity":  # Wortsman's value relative to what there is to lose
            gain = g.l0 - float(res.values["best_loss"][0]) if "best_loss" in res.values else np.nan
            row[col + "_norm"] = row[col] / gain if gain > 0 else np.nan
    # the best loss without the winner's curse: each seed scores the point chosen on the others
    row["best_loss_xfit"] = (
        float(np.nanmean(per_seed.values["best_loss"])) if np.isfinite(per_seed.values["best_loss"]).any() else np.nan
    )
    row["undefined"] = "; ".join(f"{col}: {why}" for col, why in res.undefined.items())
    by_reason: dict[str, list[str]] = {}
    for col, why in res.undefined.items():
        if why != "lr not swept":
            by_reason.setdefault(why, []).append(col)
    notes += [f"{who}: {', '.join(cols)} undefined: {why}" for why, cols in by_reason.items()]

    if row["failed"] == row["trials"]:
        notes.append(
            f"{who}: no completed trial: all {row['trials']} failed (see the failed table), so no loss, "
            "divergence rate or other metric is defined"
        )
    if missing:
        short = int((g.points["n_seeds"] < seeds_here.sum()).sum())
        notes.append(
            f"{who}: {missing} of {n_points * int(seeds_here.sum())} point x seed trials missing; "
            f"{short} point(s) use medians over fewer than {int(seeds_here.sum())} seeds"
        )
    partial = g.ran.any(axis=0) & ~g.ran.all(axis=0)
    if partial.any() and not g.sampled:
        names = ", ".join(str(int(v)) for v in g.seeds[partial])
        runs = sorted({int(k) for k in g.ran[:, partial].sum(axis=0)})
        notes.append(
            f"{who}: seed(s) {names} ran {' or '.join(map(str, runs))} of the {n_points} points: left out "
            "of the paired tests (claims) until they have run every point"
        )
    if seeds_here.sum() < len(g.seeds):
        notes.append(f"{who}: ran {int(seeds_here.sum())} of the task's {len(g.seeds)} seeds")
    if int(seeds_here.sum()) < 2:
        notes.append(f"{who}: one seed: intervals are degenerate and claims about it are inconclusive")
    if (g.points["n_trials"] > g.points["n_seeds"]).any():
        notes.append(f"{who}: some grid point ran a seed twice (several run directories?); both trials count")
    if not g.lr_swept:
        notes.append(f"{who}: lr not swept: basin width and lr sensitivity undefined")
    if edges and present.any():  # no loss at all: no best point, so none at an edge
        notes.append(f"{who}: optimum at the grid's edge ({', '.join(edges)}): a better point may lie outside")
    return row


def open_edges(flags: list[str], best: pd.Series, hdefs: dict[str, HParamDef]) -> list[str]:
    """The edge flags ("clamp_c:high") of the best point that could hide a better point outside
    the grid: all but those at a closed bound the hyperparameter declares (HParamDef.at_closed_bound)."""

    def closed(name: str, side: str) -> bool:
        return name in hdefs and hdefs[name].at_closed_bound(best.get("hp." + name), side)

    return [flag for flag in flags if not closed(*flag.split(":"))]


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """A run directory's meta.json ({} when absent or unreadable)."""
    path = Path(run_dir) / "meta.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def sweep_doc(meta: dict[str, Any]) -> dict[str, Any]:
    """The sweep file kept in a run's meta.json, parsed ({} when absent or not a mapping)."""
    try:
        doc = yaml.safe_load(meta.get("sweep_yaml") or "")
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def analyze_runs(
    run_dirs: Sequence[str | Path],
    claims_file: str | Path | None = None,
    settings: AnalysisSettings | dict | None = None,
) -> Analysis:
    """Load run directories (sweeps.store.load_runs) and analyze them. Claims come from
    ``claims_file``, else from the sweep file kept in each run's meta.json."""
    from optbasin.sweeps.store import load_runs

    trials, steps = load_runs([Path(d) for d in run_dirs])
    return analyze(trials, steps, **run_inputs(run_dirs, claims_file, settings))


def run_inputs(
    run_dirs: Sequence[str | Path], claims: Any = None, settings: AnalysisSettings | dict | None = None
) -> dict:
    """What ``analyze`` needs beside the tables, read from the runs' meta.json, one reading for every
    entry point (analyze_runs, the report, api.Run): the claims (a list, a claims file, else the
    sweep files' own), the settings (else the adaptive runs' summed level: adaptive_settings), the
    adaptive seed limit (futility needs it) and the catalog (its declared bounds)."""
    if claims is None:
        claims = claims_from_runs(run_dirs)
    elif isinstance(claims, (str, Path)):
        claims = load_claims(claims)
    return {
        "claims": claims,
        "settings": adaptive_settings(run_dirs) if settings is None else settings,
        "max_seeds": adaptive_max_seeds(run_dirs),
        "catalog": catalog_from_runs(run_dirs),
    }


def catalog_from_runs(run_dirs: Sequence[str | Path]) -> Catalog | None:
    """The catalog the runs' sweep files (kept in meta.json) were expanded against: the built-in
    entries and every ``catalog:`` directory, relative to its sweep file. None when one of those
    directories is gone or no longer loads: then no declared bound is known, and every grid edge
    is flagged (the cautious reading)."""
    dirs: list[Path] = []
    for d in run_dirs:
        meta = read_meta(d)
        extra = sweep_doc(meta).get("catalog")
        base = Path(meta.get("sweep_file") or Path(d) / "sweep.yaml").parent
        dirs += [base / e for e in extra if isinstance(e, str)] if isinstance(extra, list) else []
    try:
        with warnings.catch_warnings():  # a user entry replacing a built-in was announced by the sweep
            warnings.simplefilter("ignore", CatalogNote)
            return Catalog.load(list(dict.fromkeys(dirs)))
    except ConfigError:
        return None


def claims_from_runs(run_dirs: Sequence[str | Path]) -> list[Claim]:
    """The claims of the sweep files kept in the runs' meta.json (first of each name wins)."""
    claims, seen = [], set()
    for d in run_dirs:
        meta = read_meta(d)
        for c in claims_from_sweep_yaml(meta.get("sweep_yaml") or "", meta.get("sweep_file") or str(d)):
            if c.name not in seen:
                seen.add(c.name)
                claims.append(c)
    return claims


def adaptive_blocks(run_dirs: Sequence[str | Path]) -> list[dict | None]:
    """Each run's ``adaptive:`` block of the sweep file kept in meta.json (None: not adaptive)."""
    blocks = []
    for d in run_dirs:
        block = sweep_doc(read_meta(d)).get("adaptive")
        blocks.append(block if isinstance(block, dict) else None)
    return blocks


def adaptive_max_seeds(run_dirs: Sequence[str | Path]) -> int | None:
    """The seed limit of the adaptive sweep the runs came from (``adaptive: max_seeds`` in the sweep
    file kept in meta.json), or None."""
    limits = [b["max_seeds"] for b in adaptive_blocks(run_dirs) if b and isinstance(b.get("max_seeds"), int)]
    return max(limits) if limits else None


def adaptive_settings(run_dirs: Sequence[str | Path]) -> dict | None:
    """The analysis level of adaptive runs that declare ``adaptive: level``: the sum of their levels
    (k runs of a study at level / k each are judged together at the study's level); None (the
    default level) unless every run declares one."""
    levels = [(b or {}).get("level") for b in adaptive_blocks(run_dirs)]
    if not levels or not all(isinstance(v, (int, float)) for v in levels):
        return None
    return {"level": float(sum(levels))}


def run_states(
    run_dirs: Sequence[str | Path], claims=None, max_seeds: int | None = None, settings=None
) -> list[PairState]:
    """Read the run directories, analyze them (claims: a list, a claims file, or None for the sweep
    file's own) and give every pair's state; max_seeds defaults to the sweep's ``adaptive: max_seeds``."""
    from optbasin.sweeps.store import load_runs

    trials, steps = load_runs([Path(d) for d in run_dirs])
    inputs = run_inputs(run_dirs, claims, settings)
    if max_seeds is not None:
        inputs["max_seeds"] = max_seeds
    return pair_states(analyze(trials, steps, **inputs))


def pair_states(result: Analysis) -> list[PairState]:
    """The analysis' sequential table as PairStates (what an adaptive round reads)."""
    return [
        PairState(
            r["claim"],
            r["task"],
            tuple(r["optimizers"]),
            r["state"],
            int(r["n_seeds"]),
            float(r["e_value"]),
            r["reason"],
        )
        for r in result.sequential.to_dict(orient="records")
    ]
