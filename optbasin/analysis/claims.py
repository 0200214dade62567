"""Claims ("MuonMax's lr basin is wider than Muon's") declared in YAML, and their verdicts
(docs/statistics.md, section 5, has the definitions and the reasoning).

A claim compares optimizer A with optimizer B (``compare: [A, B]``) on one metric, per task,
with a smallest effect of interest Delta (``margin``; the metric's registry default otherwise).
On each task, every seed j both optimizers ran gives a paired value (a_j, b_j): the metric on
that seed alone. The per-seed effect in the claimed orientation is

    e_j = +-(a_j - b_j)           (effect: difference; + for direction greater)
    e_j = +-log(a_j / b_j)        (effect: ratio; Delta = log(margin))

and three exact sign-flip tests of the shifted data (the shift is applied to the data before the
flips or swaps, never after) give

    p_supported     H0: effect <= Delta      tested on e_j - Delta
    p_contradicted  H0: effect >= -Delta     tested on e_j + Delta
    p_equivalent    H0: |effect| >= Delta    two one-sided tests (TOST), the larger p

A claim on a task is one two-sided test, p = min(1, 2 min(p_supported, p_contradicted,
p_equivalent)), whose smallest term names the finding. Holm's correction runs over these p of the
``primary: true`` claims (one family) and, apart, over the exploratory ones. A task's verdict is
that finding when its Holm-adjusted p <= level, else ``insufficient seeds`` (no outcome of this
many seeds could have reached the level) or ``inconclusive`` (also: a metric undefined, an
optimizer missing, a grid cut that could reverse the finding, a best loss on different grids
with no exact test). A basin-width claim's margin is at least the grid's step at the basins' edges.

A claim's overall verdict is a finding only when every task reaches it (intersection-union: its
p is the largest per-task adjusted p); tasks that disagree give ``mixed``. Raw effects of
different tasks are never averaged. ``given: X``: the claim is decided only when claim X is
supported (it keeps its place in its family, so Holm's error rate holds as is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from optbasin.analysis.grid import LR
from optbasin.analysis.metrics import DECADE_TOL, edge_step
from optbasin.analysis.robustness import cross_fit
from optbasin.analysis.significance import (
    holm,
    seeds_needed,
    sign_flip_pvalues,
    smallest_p,
    studentized_interval,
    swap_pvalues,
    t_statistic,
)
from optbasin.analysis.specs import RATIO_MARGIN, REGISTRY, MetricSpec
from optbasin.config import CLAIM_OPTIONS, Claim, claim_problems, problems_from, read_yaml
from optbasin.errors import ConfigError, Problem

__all__ = [
    "Claim",
    "check_claim_metrics",
    "claim_margin",
    "claim_spec",
    "evaluate_claims",
    "load_claims",
    "metric_problems",
    "parse_claims",
    "claims_from_sweep_yaml",
]

DECISIVE = ("supported", "contradicted")
FINDINGS = ("supported", "contradicted", "equivalent")


def claim_spec(claim: Claim, settings) -> MetricSpec:
    """The leaderboard metric a claim is about (defaults from the analysis settings)."""
    if claim.metric == "basin_width":
        if claim.delta is not None:
            return MetricSpec("basin_width", delta=claim.delta, scope=claim.scope or "own")
        return MetricSpec(
            "basin_width",
            eps=claim.tolerance if claim.tolerance is not None else settings.eps[0],
            scope=claim.scope or "floor",
        )
    if claim.metric == "lr_sensitivity":
        window = claim.window
        if isinstance(window, dict):  # hashable, in the claim's compare order
            window = tuple((label, float(window[label][0]), float(window[label][1])) for label in claim.compare)
        return MetricSpec("lr_sensitivity", window=window)
    if claim.metric == "expected_best_k":
        return MetricSpec("expected_best_k", k=claim.k)
    if claim.metric == "tunability":
        return MetricSpec("tunability", weighting=claim.weighting or "uniform")
    if claim.metric == "alpha_tunability":
        return MetricSpec("alpha_tunability", alpha=claim.alpha if claim.alpha is not None else settings.alpha)
    return MetricSpec(claim.metric)


def claim_margin(claim: Claim, task: str | None = None) -> float:
    """The claim's smallest effect of interest on ``task``: its ``margin`` (the task's entry when
    it gives one per task label), else the metric's registry default (a factor, RATIO_MARGIN, for
    effect: ratio)."""
    if isinstance(claim.margin, dict):
        if task in claim.margin:
            return float(claim.margin[task])
    elif claim.margin is not None:
        return float(claim.margin)
    return RATIO_MARGIN if claim.effect == "ratio" else REGISTRY[claim.metric].margin


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


STEP_COST = (
    "step cost is a benchmark, not a sweep claim: sweep trials share cores and run concurrently, so their "
    "wall time measures the machine; measure it with `optbasin bench` (each optimizer's step timed alone on "
    "fixed gradients, repeated, as a ratio to AdamW)"
)


def _metric_problem(item: dict) -> tuple[str, str] | None:
    """(field, reason) when a claim's metric or one of its options is not the registry's; None when fine."""
    metric = item["metric"]
    if metric not in REGISTRY:
        return "metric", f"unknown metric {metric!r}; expected one of {', '.join(REGISTRY)}"
    if metric == "time_per_step":
        return "metric", STEP_COST
    for option in CLAIM_OPTIONS:
        if item.get(option) is not None and option not in REGISTRY[metric].options:
            owners = [n for n, d in REGISTRY.items() if option in d.options]
            return "", f"'{option}' applies to metric {', '.join(owners)}, not {metric}"
    return None


def metric_problems(items: Any, file: str) -> list[Problem]:
    """The claims' metrics and metric options checked against the registry (the schema,
    config.Claim, checks every other field and knows no metric). ``items``: a ``claims:`` list as
    read (dicts) or validated (Claim); anything that is not a mapping with a string metric is left
    to the schema. Problems are located claims[i].metric, or claims[i] for an option."""
    problems = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        item = item.model_dump() if isinstance(item, Claim) else item
        if isinstance(item, dict) and isinstance(item.get("metric"), str):
            found = _metric_problem(item)
            if found:
                problems.append(Problem(file, f"claims[{i}]" + (f".{found[0]}" if found[0] else ""), found[1]))
    return problems


def check_claim_metrics(claims: list[Claim], file: str) -> None:
    """metric_problems as a ConfigError (a sweep's claims, before it runs)."""
    problems = metric_problems(claims, file)
    if problems:
        raise ConfigError(problems)


def parse_claims(items: Any, file: str) -> list[Claim]:
    """Validate a ``claims:`` list; ConfigError naming file, claims[i].field and reason."""
    if not isinstance(items, list):
        raise ConfigError([Problem(file, "claims", f"expected a list of claims, got {type(items).__name__}")])
    problems, claims = [], []
    for i, item in enumerate(items):
        where = f"claims[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(file, where, f"expected a mapping of fields, got {type(item).__name__}"))
            continue
        try:
            claims.append(Claim.model_validate(item))
        except ValidationError as e:
            problems += problems_from(e, file, prefix=where)
    problems += metric_problems(items, file)
    problems += claim_problems(claims, file) if not problems else []
    if problems:
        raise ConfigError(problems)
    return claims


def load_claims(path: str | Path) -> list[Claim]:
    """Claims of a YAML file: a claims file (``claims:`` only) or a sweep file with a ``claims:`` list."""
    doc = read_yaml(path)
    if not isinstance(doc, dict) or "claims" not in doc:
        raise ConfigError([Problem(str(path), "claims", "missing: the file needs a top-level 'claims:' list")])
    return parse_claims(doc["claims"], str(path))


def claims_from_sweep_yaml(text: str, file: str) -> list[Claim]:
    """Claims of a sweep's YAML text (as kept in meta.json); none when it has no claims."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(doc, dict) or not doc.get("claims"):
        return []
    return parse_claims(doc["claims"], file)


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------
VERDICT_COLUMNS = [
    "claim",
    "metric",
    "a",
    "b",
    "direction",
    "effect_kind",
    "margin",
    "family",
    "given",
    "tasks",
    "seeds",
    "verdict",
    "p_value",
    "effect",
    "ci_low",
    "ci_high",
    "reason",
    "caveats",
    "per_task",
    "level",
    "tests",
    "description",
]
TASK_COLUMNS = [
    "claim",
    "task",
    "metric",
    "a",
    "b",
    "direction",
    "effect_kind",
    "margin",
    "family",
    "seeds",
    "value_a",
    "value_b",
    "effect",
    "ci_low",
    "ci_high",
    "p_supported",
    "p_contradicted",
    "p_equivalent",
    "p_two_sided",
    "p_holm",
    "verdict",
    "reason",
    "test",
    "edge_a",
    "edge_b",
    "points_a",
    "points_b",
    "caveats",
]


@dataclass
class TaskTest:
    """One claim on one task: the paired test's inputs and outcome."""

    task: str
    row: dict[str, Any]
    e: np.ndarray | None = None  # per-seed effects, claimed orientation (None: no test)
    shift: float = 0.0  # Delta, in the units of e (log for a ratio)
    swap: tuple | None = None  # (A's, B's (P, m) results): swap raw results, recompute
    orient: float = 1.0  # +1: direction greater, -1: less
    ratio: bool = False
    reversible: dict[str, bool] = field(default_factory=dict)  # verdict -> a grid cut could reverse it
    unresolved: str = ""  # why equivalence is not resolved: the margin was raised to the grid's step

    def one_sided(self, shift: float, seed: int) -> tuple[float, float]:
        """(greater, less) p of "effect - shift" against 0; the shift moves the data before the
        sign flips (or, for raw swaps, moves B's results: e - s = o (a - (b + o s)))."""
        if self.swap is None:
            return sign_flip_pvalues(self.e - shift, seed)
        xa, xb = self.swap
        o, ratio = self.orient, self.ratio
        xb = xb * np.exp(o * shift) if ratio else xb + o * shift

        def statistic(la: np.ndarray, lb: np.ndarray) -> np.ndarray:
            a, b = cross_fit(la), cross_fit(lb)
            with np.errstate(all="ignore"):
                return t_statistic(o * (np.log(a / b) if ratio else a - b))

        return swap_pvalues(xa, xb, statistic, seed)


def evaluate_claims(
    claims: list[Claim], leaderboard: pd.DataFrame, seedvals: dict, settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts: one row per claim, by_task: one row per claim and task).

    seedvals: (task, optimizer) -> robustness.GroupResult of robustness.seed_values."""
    plans = [_plan(c, leaderboard, seedvals, settings) for c in claims]
    families: dict[str, list[TaskTest]] = {"primary": [], "exploratory": []}
    for c, (_, ts) in zip(claims, plans):
        families["primary" if c.primary else "exploratory"] += [t for t in ts if t.e is not None]
    for t in families["primary"] + families["exploratory"]:
        up_g, up_l = t.one_sided(t.shift, settings.seed)
        lo_g, lo_l = t.one_sided(-t.shift, settings.seed)
        r = t.row
        r["p_supported"], r["p_contradicted"], r["p_equivalent"] = up_g, lo_l, max(up_l, lo_g)
        r["p_two_sided"] = min(1.0, 2 * min(up_g, lo_l, max(up_l, lo_g)))
    size = {name: len(ts) for name, ts in families.items()}
    for name, ts in families.items():
        adjusted = holm(np.array([t.row["p_two_sided"] for t in ts])) if ts else []
        for t, p in zip(ts, adjusted):
            t.row["p_holm"] = float(p)
            _decide(t, settings.level, size[name], name)
    verdicts: list[dict] = []
    for c, (head, ts) in zip(claims, plans):
        row = _overall(c, head, ts, size["primary" if c.primary else "exploratory"])
        if c.given is not None:
            parent = next((v for v in verdicts if v["claim"] == c.given), {"verdict": "not among the claims judged"})
            if parent["verdict"] != "supported" and row["verdict"] in FINDINGS + ("mixed",):
                why = f"not decided: it is gated on {c.given!r}, which is {parent['verdict']} (fixed sequence)"
                row.update(
                    reason=f"{why}; alone it would be {row['verdict']} ({row['reason']})", verdict="inconclusive"
                )
                for t in ts:
                    if t.row["verdict"] in FINDINGS:
                        t.row["reason"] = f"{why}; alone: {t.row['verdict']}"
                        t.row["verdict"] = "inconclusive"
        verdicts.append(row)
    by_task = [t.row for _, ts in plans for t in ts]
    return pd.DataFrame(verdicts, columns=VERDICT_COLUMNS), pd.DataFrame(by_task, columns=TASK_COLUMNS)


def _cell(lb: pd.DataFrame, task: str, opt: str) -> pd.Series | None:
    hit = lb[(lb["task"] == task) & (lb["optimizer"] == opt)] if not lb.empty else lb
    return None if hit.empty else hit.iloc[0]


def _plan(claim: Claim, lb: pd.DataFrame, seedvals: dict, settings) -> tuple[dict, list[TaskTest]]:
    """The claim's head (fields of its verdict row; 'reason' set when it cannot be tested at all)
    and one TaskTest per task."""
    a, b = claim.compare
    spec = claim_spec(claim, settings)
    head: dict[str, Any] = {
        "claim": claim.name,
        "metric": spec.column,
        "a": a,
        "b": b,
        "direction": claim.direction,
        "effect_kind": claim.effect,
        "margin": claim_margin(claim),
        "given": claim.given or "",
        "family": "primary" if claim.primary else "exploratory",
        "description": claim.description,
        "level": settings.level,
        "reason": None,
    }
    known = set(lb["task"]) if not lb.empty else set()
    if claim.task == "all":
        tasks = sorted(t for t in known if _cell(lb, t, a) is not None and _cell(lb, t, b) is not None)
        if not tasks:
            missing = [o for o in (a, b) if lb.empty or o not in set(lb["optimizer"])]
            head["reason"] = (
                f"optimizer(s) {', '.join(missing)} not in the results" if missing else f"no task has both {a} and {b}"
            )
    else:
        tasks = [claim.task] if isinstance(claim.task, str) else list(claim.task)
        for t in tasks:
            if t not in known:
                head["reason"] = f"task {t!r} not in the results"
            else:
                for o in (a, b):
                    if _cell(lb, t, o) is None:
                        head["reason"] = f"optimizer {o!r} has no trials on task {t!r}"
    head["tasks"] = ",".join(tasks)
    if head["reason"] is not None:
        return head, []
    return head, [_task_test(claim, spec, t, _cell(lb, t, a), _cell(lb, t, b), seedvals, head, settings) for t in tasks]


def _task_test(
    claim: Claim, spec: MetricSpec, task: str, ca: pd.Series, cb: pd.Series, seedvals: dict, head: dict, settings
) -> TaskTest:
    a, b = claim.compare
    col = spec.column
    ratio = claim.effect == "ratio"
    ra, rb = seedvals[(task, a)], seedvals[(task, b)]
    row: dict[str, Any] = {
        k: head[k] for k in ("claim", "metric", "a", "b", "direction", "effect_kind", "margin", "family")
    }
    row.update(
        task=task,
        seeds=0,
        value_a=float(ca.get(col, np.nan)),
        value_b=float(cb.get(col, np.nan)),
        effect=np.nan,
        ci_low=np.nan,
        ci_high=np.nan,
        p_supported=np.nan,
        p_contradicted=np.nan,
        p_equivalent=np.nan,
        p_two_sided=np.nan,
        p_holm=np.nan,
        verdict="inconclusive",
        reason="",
        test="",
        edge_a=ca["best_at_edge"],
        edge_b=cb["best_at_edge"],
        points_a=int(ca["points"]),
        points_b=int(cb["points"]),
        caveats="; ".join(_caveats(task, ca, cb, spec)),
    )
    test = TaskTest(task, row, orient=1.0 if claim.direction == "greater" else -1.0, ratio=ratio)
    margin = claim_margin(claim, task)
    row["margin"] = margin
    ran = ra.ran & rb.ran  # seeds both optimizers ran
    if spec.name == "basin_width":  # an effect below the grid's resolution at the basins' edges is no finding
        res = max(_edge_resolution(ra, col, ran), _edge_resolution(rb, col, ran))
        if res > margin + DECADE_TOL:
            test.unresolved = (
                f"the grid resolves the basin edges only to {res:.3g} decades, coarser than the declared "
                f"margin {margin:.3g}: equivalence within the margin is not shown (bisect the edges: "
                "run --adaptive with a resolution <= the margin)"
            )
            margin = res
            row["margin"] = res
            row["caveats"] = "; ".join(
                filter(
                    None,
                    [
                        row["caveats"],
                        f"{task}: margin raised to the lr grid's resolution at the basin edges (its step "
                        f"there), {res:.3g} decades",
                    ],
                )
            )
    test.shift = float(np.log(margin)) if ratio else float(margin)
    if col not in ra.values:
        row["reason"] = f"metric column {col} was not computed"
        return test
    for opt, c, res in ((a, ca, ra), (b, cb, rb)):
        if col in res.undefined or not np.isfinite(float(c.get(col, np.nan))):
            why = _undefined(c, col) or res.undefined.get(col, "undefined")
            row["reason"] = f"{col} is undefined for {opt}: {why}"
            return test
    if spec.name == "best_loss":
        xa, xb, ran = _best_loss_footing(claim, ra.group, rb.group, ran, test)
        if xa is None:
            return test
    else:
        xa, xb = ra.values[col], rb.values[col]
        row["test"] = "sign flips of per-seed values"
    if ran.sum() < 2:
        row["seeds"], row["verdict"] = int(ran.sum()), "insufficient seeds"
        row["reason"] = (
            f"{int(ran.sum())} paired seed(s): a paired test needs 2 at least, and "
            f"{seeds_needed(head['level'] / 2)} for one claim at level {head['level']:g}"
        )
        return test
    bad = ran & ~(np.isfinite(xa) & np.isfinite(xb))
    if bad.any():
        who = [o for o, x in ((a, xa), (b, xb)) if (ran & ~np.isfinite(x)).any()]
        row["reason"] = (
            f"{col} is undefined on {int(bad.sum())} of {int(ran.sum())} seeds for {', '.join(who)} "
            "(best point diverged, l* >= l0 or l_ref, budget beyond the trials, or one seed cannot "
            "cross-fit)"
        )
        row["seeds"] = int(ran.sum())
        test.swap = None
        return test
    xa, xb = xa[ran], xb[ran]
    row["seeds"] = int(ran.sum())
    if ratio:
        if (xa <= 0).any() or (xb <= 0).any():
            row["reason"] = f"a ratio needs positive values of {col}"
            test.swap = None
            return test
        d = np.log(xa / xb)
    else:
        d = xa - xb
    test.e = test.orient * d
    lo, hi = studentized_interval(d, settings.confidence, settings.resamples, settings.seed)
    back = np.exp if ratio else (lambda v: v)
    row["effect"], row["ci_low"], row["ci_high"] = (float(back(v)) for v in (d.mean(), lo, hi))
    test.reversible = _reversible(spec, ra.cuts.get(col), rb.cuts.get(col), ran, ca, cb, claim.direction)
    return test


def _best_loss_footing(claim: Claim, ga, gb, ran: np.ndarray, test: TaskTest):
    """(a, b, seeds) of a best-loss claim on a footing where the sign-flip null holds exactly, or
    (None, None, ran) with the reason in test.row:

    - tuning_seeds: n  each optimizer's best point is chosen on the first n seeds both ran
      (median over them) and scored on the others, whose terms are independent: sign flips;
    - the same grid   the cross-fitted best loss, swapping A's and B's raw results seed by seed;
    - shared points   the same, restricted to the grid points both ran (said in the caveats);
    - otherwise none exists: inconclusive, with the reason."""
    row = test.row
    idx = np.flatnonzero(ran)
    if claim.tuning_seeds is not None:
        n = claim.tuning_seeds
        if len(idx) <= n:
            row["verdict"], row["seeds"] = "insufficient seeds", 0
            row["reason"] = f"tuning_seeds: {n}, but only {len(idx)} seed(s) both ran: none is left to score on"
            return None, None, ran
        tune, held = idx[:n], np.zeros_like(ran)
        held[idx[n:]] = True

        def scored(g) -> np.ndarray:
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isfinite(g.loss[:, tune]), g.loss[:, tune], np.nan), axis=1)
            return g.loss[int(np.argmin(np.where(np.isfinite(med), med, np.inf)))]

        row["test"] = (
            f"best point chosen on seeds {', '.join(str(int(ga.seeds[j])) for j in tune)}, scored on the others"
        )
        return scored(ga), scored(gb), held
    if _same_grid(ga, gb):
        la, lb = ga.loss, gb.loss
        row["test"] = "cross-fitted best loss, A's and B's results swapped seed by seed (same grid)"
    else:
        pa, pb = _shared_points(ga, gb)
        if not len(pa):
            row["reason"] = (
                f"{claim.compare[0]} and {claim.compare[1]} ran different grids with no point in common, "
                "so the cross-fitted best loss has "
                "no exact test (its per-seed terms share selection data); declare tuning_seeds: n "
                "(choose on n seeds, score on the others) or give the grids common points"
            )
            return None, None, ran
        la, lb = ga.loss[pa], gb.loss[pb]
        row["test"] = (
            f"cross-fitted best loss on the {len(pa)} grid point(s) both ran (of {len(ga.points)} and "
            f"{len(gb.points)}), results swapped seed by seed"
        )
        row["caveats"] = "; ".join(
            filter(None, [row["caveats"], f"{test.task}: decided on the grid points both optimizers ran ({len(pa)})"])
        )
    xa, xb = cross_fit(la[None])[0], cross_fit(lb[None])[0]
    test.swap = (la[:, ran], lb[:, ran])
    return xa, xb, ran


def _edge_resolution(r, col: str, ran: np.ndarray) -> float:
    """The lr grid's step where a basin width is measured: the largest gap holding an uncut edge of
    the basin on any seed both optimizers ran (metrics.Basin.step); the coarsest step of the whole
    grid where no seed has an uncut edge (no edge was located, so nothing finer is known)."""
    gaps = r.gaps.get(col)
    seen = edge_step(gaps[ran]) if gaps is not None and ran is not None and len(gaps) == len(ran) else np.array([])
    seen = seen[np.isfinite(seen)]
    return float(seen.max()) if seen.size else _resolution(r.group)


def _resolution(g) -> float:
    """The lr grid's coarsest step along lr, in decades (0 when lr has one value)."""
    x = np.unique(np.round(g.log_lr[np.isfinite(g.log_lr)], 6))
    return float(np.diff(x).max()) if x.size > 1 else 0.0


def _shared_points(ga, gb) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into A's and B's points) of the grid points both ran: the two sweep the same axes
    (the hyperparameters that vary, e.g. lr) and the point has the same values on them (to 6
    significant digits). Unswept hyperparameters (an optimizer's own betas, momentum ...) are
    each optimizer's fixed setting, not part of the grid."""
    cols = sorted(ga.axes) or [LR]  # one point each: compared at its lr
    if sorted(ga.axes) != sorted(gb.axes) or any(c not in g.points for g in (ga, gb) for c in cols):
        return np.array([], dtype=int), np.array([], dtype=int)

    def keys(g) -> list[tuple]:
        return [tuple(_round(v) for v in r) for r in g.points[cols].itertuples(index=False)]

    where_b = {k: i for i, k in enumerate(keys(gb))}
    pairs = [(i, where_b[k]) for i, k in enumerate(keys(ga)) if k in where_b]
    return np.array([p[0] for p in pairs], dtype=int), np.array([p[1] for p in pairs], dtype=int)


def _round(v):
    return float(f"{v:.6g}") if isinstance(v, (float, np.floating)) else v


def _same_grid(ga, gb) -> bool:
    """Both groups ran the same grid points, in the same order."""
    pa, pb = _shared_points(ga, gb)
    return len(pa) == len(ga.points) == len(gb.points) and bool(
        (pa == np.arange(len(pa))).all() and (pb == np.arange(len(pb))).all()
    )


def _undefined(c: pd.Series, col: str) -> str:
    for part in str(c.get("undefined", "") or "").split("; "):
        if part.startswith(col + ": "):
            return part.removeprefix(col + ": ")
    return ""


def _reversible(spec: MetricSpec, cut_a, cut_b, ran, ca, cb, direction: str) -> dict[str, bool]:
    """Which findings a grid cut could reverse. A basin cut by the grid is a lower bound:
    'A wider than B' could reverse when B's basin was cut (and vice versa), equivalence when either
    was. A cut Wortsman window covers less than its range, in an unknown direction: any cut could
    reverse any finding."""
    kind = spec.entry.cut_kind
    if kind is None:
        return {}
    col = spec.column

    def was_cut(cuts, c) -> bool:
        return bool(cuts is not None and cuts[ran].any()) or bool(
            str(c.get(col + "_cut", "") or "") not in ("", "False", "nan")
        )

    a_cut, b_cut = was_cut(cut_a, ca), was_cut(cut_b, cb)
    if kind == "partial":
        return {v: a_cut or b_cut for v in FINDINGS}
    a_found_higher = {"supported": direction == "greater", "contradicted": direction == "less"}
    # a lower bound can only grow: the lower one of the two could overtake the other
    out = {v: (b_cut if higher else a_cut) for v, higher in a_found_higher.items()}
    out["equivalent"] = a_cut or b_cut
    return out


def _decide(t: TaskTest, level: float, family: int, name: str) -> None:
    r = t.row
    m = r["seeds"]
    terms = {"supported": r["p_supported"], "contradicted": r["p_contradicted"], "equivalent": r["p_equivalent"]}
    finding = min(terms, key=terms.get)
    what = {
        "supported": "better by more than the margin",
        "contradicted": "worse by more than the margin",
        "equivalent": "within +- the margin",
    }[finding]
    if r["p_holm"] <= level:
        r["verdict"] = finding
        r["reason"] = f"{what}: Holm-adjusted p = {r['p_holm']:.3g} <= {level:g} ({name} family of {family})"
    elif 2 * smallest_p(m) > level / family:
        r["verdict"] = "insufficient seeds"
        r["reason"] = (
            f"{m} seeds give a two-sided p >= {2 * smallest_p(m):.3g} > {level:g}/{family} (Holm over the "
            f"{family} claim x task tests of the {name} family): {seeds_needed(level / (2 * family))} "
            "seeds needed"
        )
    else:
        r["reason"] = f"nearest finding {finding}, Holm-adjusted p = {r['p_holm']:.3g} > {level:g}"
    if r["verdict"] in FINDINGS and t.reversible.get(r["verdict"]):
        r["reason"] = f"would be {r['verdict']} ({r['reason']}), but a grid cut of {r['metric']} could reverse it"
        r["verdict"] = "inconclusive"
    if r["verdict"] == "equivalent" and t.unresolved:  # within the raised margin is not within the declared one
        r["reason"] = f"would be equivalent within {r['margin']:.3g} ({r['reason']}), but {t.unresolved}"
        r["verdict"] = "inconclusive"


def _overall(claim: Claim, head: dict, tests: list[TaskTest], family: int) -> dict[str, Any]:
    row = {k: head.get(k) for k in VERDICT_COLUMNS}
    row.update(
        seeds=0, p_value=np.nan, effect=np.nan, ci_low=np.nan, ci_high=np.nan, caveats="", per_task="", tests=family
    )
    if head["reason"] is not None:
        row.update(verdict="inconclusive", reason=head["reason"])
        return row
    rows = [t.row for t in tests]
    verdicts = [r["verdict"] for r in rows]
    row["seeds"] = min(r["seeds"] for r in rows)
    row["margin"] = max(r["margin"] for r in rows)  # a basin's margin may be raised to the grid's resolution
    row["p_value"] = max(r["p_holm"] for r in rows)  # NaN when some task has no test
    if len(rows) == 1:
        row.update(effect=rows[0]["effect"], ci_low=rows[0]["ci_low"], ci_high=rows[0]["ci_high"])
    distinct = set(verdicts)
    if len(distinct) == 1:
        verdict = verdicts[0]
    elif distinct & set(FINDINGS):
        verdict = "mixed"
    else:
        verdict = "insufficient seeds" if "insufficient seeds" in distinct else "inconclusive"
    n = len(rows)
    if verdict in FINDINGS:
        reason = f"{verdict} on every task ({n}); intersection-union p = {row['p_value']:.3g}"
    elif verdict == "mixed":
        reason = "tasks disagree: " + ", ".join(f"{r['task']} {r['verdict']}" for r in rows)
    else:
        reason = rows[0]["reason"] if n == 1 else "; ".join(f"{r['task']}: {r['reason']}" for r in rows)
    row.update(
        verdict=verdict,
        reason=reason,
        caveats="; ".join(r["caveats"] for r in rows if r["caveats"]),
        per_task="; ".join(_per_task(r) for r in rows),
    )
    return row


def _per_task(r: dict) -> str:
    ratio = r["effect_kind"] == "ratio"
    eff = (
        ""
        if not np.isfinite(r["effect"])
        else (
            f" {r['effect']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
            if ratio
            else f" {r['effect']:+.4g} [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]"
        )
    )
    p = "" if not np.isfinite(r["p_holm"]) else f", p = {r['p_holm']:.3g}"
    return f"{r['task']}: {r['verdict']}{eff}{p}, {r['seeds']} seeds"


def _caveats(task: str, ca: pd.Series, cb: pd.Series, spec: MetricSpec) -> list[str]:
    col = spec.column
    out = []
    for c in (ca, cb):
        who = f"{task}/{c['optimizer']}"
        if c["best_at_edge"]:
            out.append(f"{who}: optimum at grid edge ({c['best_at_edge']})")
        cut = c.get(col + "_cut", "")
        if isinstance(cut, str) and cut:
            out.append(f"{who}: {col} cut by the grid's edge ({cut})")
        if c.get(col + "_disjoint", False) is True:
            out.append(f"{who}: several disjoint intervals qualify for {col} (the widest is used)")
        if c["missing_trials"]:
            out.append(f"{who}: {int(c['missing_trials'])} missing trial(s)")
    return out
