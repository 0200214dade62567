"""What one adaptive round adds (adaptive.py runs the rounds): a pure function of the trials planned
so far, the analysis of the store and the claims' sequential states.

1. Close the grid: a best point (the analysis' best, per task x optimizer) on the edge of a swept
   axis gets the next value beyond it (axis_step.beyond: the axis' own spacing, never past a
   declared bound); a non-lr axis' new value is run at every lr of the best point's lr slice.
2. Resolve what the claims measure, on the lr slice through the best point: a basin edge (of each
   basin_width claim; of the default basin when the sweep has no claims) that reaches the grid's
   end gets the next lr beyond it, one between two lrs more than ``resolution`` decades apart gets
   their log-midpoint; an lr_sensitivity window gets its two ends and the log-midpoint of every
   pair of lrs inside it more than ``resolution`` apart. A basin claim's paired test measures each
   seed's basin on the lr slice through that seed's own best point, and its margin is raised to
   the widest gap holding any seed's edge (analysis/claims.py), so every seed's uncut edge in a
   gap wider than ``resolution`` gets that gap's log-midpoint too, on that seed's slice.
3. Seeds where a verdict is open: each (claim, task) pair in state open
   gets ``seeds_per_round`` new seeds (the same new seed numbers for every cell of the task, so the
   paired test pairs them) at every point of its two cells, up to ``max_seeds`` per cell.
New points run with every seed their cell already has.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optbasin.adaptive.axis_step import beyond, decades, log_midpoint
from optbasin.analysis.claims import claim_spec
from optbasin.analysis.specs import MetricSpec
from optbasin.catalog import Catalog
from optbasin.config import AdaptiveSpec, LogRange, SweepSpec
from optbasin.training.trial_spec import TrialSpec

SEEDING_STATES = ("open",)  # more seeds may decide these; "insufficient seeds": not within the seed limit
TOL = 1e-6  # decades: two lrs closer than this are one


@dataclass(frozen=True)
class Addition:
    """Trials of one grid point of one cell (task, optimizer) at ``seeds``, and why."""

    task: str
    optimizer: str
    point: dict[str, Any]  # the optimizer entry's grid axes -> value
    seeds: tuple[int, ...]
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "optimizer": self.optimizer,
            "point": self.point,
            "seeds": list(self.seeds),
            "why": self.why,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Addition:
        return cls(d["task"], d["optimizer"], d["point"], tuple(d["seeds"]), d["why"])


def point_key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


class Cells:
    """The points and seeds each (task, optimizer) has among the planned trials."""

    def __init__(self, planned: list[TrialSpec]):
        self.points: dict[tuple[str, str], dict[str, dict]] = {}
        self.seeds: dict[tuple[str, str], set[int]] = {}
        self.task_seeds: dict[str, set[int]] = {}
        for t in planned:
            cell = (t.task, t.optimizer)
            point = {k: t.hparams[k] for k in t.swept}
            self.points.setdefault(cell, {}).setdefault(point_key(point), point)
            self.seeds.setdefault(cell, set()).add(t.seed)
            self.task_seeds.setdefault(t.task, set()).add(t.seed)


def plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def plan_round(
    spec: SweepSpec, catalog: Catalog, planned: list[TrialSpec], analysis: Any, states: list, settings: AdaptiveSpec
) -> tuple[list[Addition], list[str]]:
    """(the round's additions in order: edges, basins, windows, seeds; notes on limits met)."""
    cells = Cells(planned)
    new_points: list[tuple[str, str, dict, str]] = []
    for row in planned_rows(analysis.leaderboard, cells):
        new_points += CellView(spec, catalog, analysis.points, row).edge_points()
    new_points += claim_points(spec, catalog, analysis, cells, settings)
    additions, seen = [], set()
    for task, opt, point, why in new_points:
        key = (task, opt, point_key(point))
        if key in seen or point_key(point) in cells.points.get((task, opt), {}):
            continue
        seen.add(key)
        additions.append(Addition(task, opt, point, tuple(sorted(cells.seeds[(task, opt)])), why))
        cells.points[(task, opt)][point_key(point)] = point
    seeds, notes = seed_additions(states, cells, settings)
    return additions + seeds, notes


def seed_additions(states: list, cells: Cells, settings: AdaptiveSpec) -> tuple[list[Addition], list[str]]:
    new_seeds = {
        task: tuple(range(max(s) + 1, max(s) + 1 + settings.seeds_per_round)) for task, s in cells.task_seeds.items()
    }
    out, notes, done = [], [], set()
    for st in states:
        if st.state not in SEEDING_STATES:
            continue
        for opt in st.optimizers:
            cell = (st.task, opt)
            if cell in done or cell not in cells.seeds:
                continue
            done.add(cell)
            room = settings.max_seeds - len(cells.seeds[cell])
            if room <= 0:
                notes.append(
                    f"max_seeds: {st.task}/{opt} has {len(cells.seeds[cell])} seeds (claim {st.claim} {st.state})"
                )
                continue
            seeds = new_seeds[st.task][:room]
            why = f"seeds: claim {st.claim} {st.state}"
            out += [Addition(st.task, opt, point, seeds, why) for point in cells.points[cell].values()]
    return out, notes


class CellView:
    """One leaderboard row (task x optimizer) with its points: the best point and its lr slice."""

    def __init__(self, spec: SweepSpec, catalog: Catalog, points: pd.DataFrame, row: dict[str, Any]):
        self.task, self.opt = row["task"], row["optimizer"]
        self.row = row
        self.entry = next(o for o in spec.optimizers if o.key == self.opt)
        self.hdefs = catalog.optimizers[self.entry.name].hyperparameters
        self.cell = points[(points["task"] == self.task) & (points["optimizer"] == self.opt)]
        best = json.loads(row["best_point"]) if isinstance(row["best_point"], str) else {}
        rows = self.cell
        for k, v in best.items():
            if k != "lr" and f"hp.{k}" in rows:
                rows = rows[rows[f"hp.{k}"] == v]
        self.best = best
        self.slice = rows.sort_values("hp.lr") if "hp.lr" in rows else rows.iloc[:0]
        self.lrs = [float(x) for x in self.slice["hp.lr"]] if len(self.slice) else []
        at = self.slice[self.slice["hp.lr"] == best["lr"]] if "lr" in best and len(self.slice) else self.slice
        self.best_row = at.iloc[0] if len(at) else (rows.iloc[0] if len(rows) else None)

    def point(self, **changes: Any) -> dict[str, Any]:
        """The best point over the entry's grid axes, with ``changes``."""
        base = {k: plain(self.best_row[f"hp.{k}"]) for k in self.entry.grid}
        return {**base, **changes}

    def lr_point(self, lr: float, why: str) -> list[tuple[str, str, dict, str]]:
        return [(self.task, self.opt, self.point(lr=lr), why)] if "lr" in self.entry.grid else []

    def is_log(self, name: str) -> bool:
        return name == "lr" or self.hdefs[name].log or isinstance(self.entry.grid.get(name), LogRange)

    def edge_points(self) -> list[tuple[str, str, dict, str]]:
        out: list[tuple[str, str, dict, str]] = []
        if self.best_row is None:
            return out
        for flag in filter(None, str(self.row.get("best_at_edge") or "").split(",")):
            name, _, side = flag.partition(":")
            if name not in self.entry.grid or name not in self.hdefs:
                continue
            if name == "lr":
                nxt = beyond(self.lrs, side, True, self.hdefs["lr"])
                out += self.lr_point(nxt, f"edge lr {side}") if nxt is not None else []
                continue
            values = sorted({float(v) for v in self.cell[f"hp.{name}"].dropna()})
            nxt = beyond(values, side, self.is_log(name), self.hdefs[name])
            if nxt is None:
                continue
            at = [{name: nxt, "lr": lr} for lr in self.lrs] if "lr" in self.entry.grid else [{name: nxt}]
            out += [(self.task, self.opt, self.point(**change), f"edge {name} {side}") for change in at]
        return out

    def basin_points(self, column: str, resolution: float) -> list[tuple[str, str, dict, str]]:
        lo, hi = self.row.get(f"{column}_lr_low"), self.row.get(f"{column}_lr_high")
        cut = str(self.row.get(f"{column}_cut") or "")
        if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)) or len(self.lrs) < 2:
            return []
        out = []
        for side, edge in (("low", lo), ("high", hi)):
            if side in cut:
                nxt = beyond(self.lrs, side, True, self.hdefs["lr"])
                out += self.lr_point(nxt, f"basin edge lr {side}") if nxt is not None else []
                continue
            i = bisect.bisect_left(self.lrs, edge) - 1 if side == "low" else bisect.bisect_right(self.lrs, edge) - 1
            if 0 <= i < len(self.lrs) - 1 and decades(self.lrs[i], self.lrs[i + 1]) > resolution + TOL:
                out += self.lr_point(log_midpoint(self.lrs[i], self.lrs[i + 1]), f"bisect basin edge {side}")
        return out

    def seed_edge_points(self, r: Any, column: str, resolution: float) -> list[tuple[str, str, dict, str]]:
        """The log-midpoint of every gap wider than ``resolution`` that holds an uncut basin edge of
        some seed, on the lr slice through that seed's best point (r: the cell's per-seed
        robustness.GroupResult, whose rows are seeds)."""
        if r is None or column not in r.gaps or r.best_rows is None or r.group is None or "lr" not in self.entry.grid:
            return []
        out = []
        for j in np.flatnonzero(r.ran):
            base = r.group.points.iloc[int(r.best_rows[j])]
            for inside, outside in r.gaps[column][j]:  # the low edge's interval, then the high edge's
                if not abs(outside - inside) > resolution + TOL:  # also NaN: a cut edge, or no basin
                    continue
                point = {k: plain(base[f"hp.{k}"]) for k in self.entry.grid}
                point["lr"] = log_midpoint(10**inside, 10**outside)
                out.append((self.task, self.opt, point, "bisect a seed's basin edge"))
        return out

    def window_points(self, window: tuple[float, float], resolution: float) -> list[tuple[str, str, dict, str]]:
        if not self.lrs:
            return []
        a, b = window
        out = []
        for end in (a, b):
            if not any(decades(end, x) < TOL for x in self.lrs):
                out += self.lr_point(end, "lr window end")
        inside = [x for x in self.lrs if a * (1 - TOL) <= x <= b * (1 + TOL)]
        for x, y in zip(inside, inside[1:]):
            if decades(x, y) > resolution + TOL:
                out += self.lr_point(log_midpoint(x, y), "bisect lr window")
        return out


def planned_rows(board: pd.DataFrame, cells: Cells) -> list[dict[str, Any]]:
    """Leaderboard rows of the cells this sweep plans (a store may hold others: an earlier sweep's)."""
    return [r for r in board.to_dict("records") if (r["task"], r["optimizer"]) in cells.seeds] if len(board) else []


def claim_tasks(claim: Any, tasks: list[str]) -> list[str]:
    return tasks if claim.task == "all" else [claim.task] if isinstance(claim.task, str) else list(claim.task)


def claim_points(spec: SweepSpec, catalog: Catalog, analysis: Any, cells: Cells, settings: AdaptiveSpec) -> list:
    rows = {(r["task"], r["optimizer"]): r for r in planned_rows(analysis.leaderboard, cells)}
    tasks = sorted({t for t, _ in rows})
    out: list = []

    def view(task: str, opt: str) -> CellView | None:
        return CellView(spec, catalog, analysis.points, rows[(task, opt)]) if (task, opt) in rows else None

    if not spec.claims:  # the default basin of every cell
        column = MetricSpec("basin_width", eps=analysis.settings.eps[0]).column
        for task, opt in rows:
            out += view(task, opt).basin_points(column, settings.resolution)
    for c in spec.claims:
        if c.metric not in ("basin_width", "lr_sensitivity"):
            continue
        column = claim_spec(c, analysis.settings).column
        for task in claim_tasks(c, tasks):
            for opt in c.compare:
                v = view(task, opt)
                if v is None:
                    continue
                if c.metric == "basin_width":
                    out += v.basin_points(column, settings.resolution)
                    out += v.seed_edge_points(analysis.per_seed.get((task, opt)), column, settings.resolution)
                else:
                    window = c.window[opt] if isinstance(c.window, dict) else c.window
                    out += v.window_points(tuple(window), settings.resolution)
    return out
