"""Claims ("MuonMax's lr basin is wider than Muon's") declared in YAML, and their verdicts
(docs/statistics.md has the definitions and the reasoning).

A claim compares optimizer A with optimizer B (``compare: [A, B]``) on one metric, per task.
On each task, every seed j both optimizers ran gives a paired value (a_j, b_j): the metric on
that seed alone (the best loss cross-fitted: robustness.seed_values). The per-seed effect is

    d_j = a_j - b_j - threshold               (effect: difference; threshold default 0)
    d_j = log(a_j / b_j) - log(threshold)     (effect: ratio; threshold default 1)

and the paired sign-flip test (significance.py) gives two one-sided p-values: p in the claimed
direction and p in the opposite one. Holm's correction runs over every one-sided p-value of the
analysis (two per claim and task). A task's verdict:

    supported          the claimed direction's adjusted p <= level
    contradicted       the opposite direction's adjusted p <= level
    insufficient seeds neither, and no outcome of this many seeds could have reached the level
    inconclusive       neither (or a metric undefined, an optimizer missing, or a grid cut that
                       could reverse a decisive result)

A claim's overall verdict is supported (contradicted) only when every task supports (contradicts)
it: an intersection-union test, whose p-value is the largest per-task one. Tasks that disagree
give ``mixed``. Raw effects of different tasks are never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from optbasin.analysis.robustness import cross_fit
from optbasin.analysis.significance import (holm, seeds_needed, sign_flip_pvalues, smallest_p, studentized_interval,
                                          swap_pvalues, t_statistic)
from optbasin.analysis.specs import MetricSpec
from optbasin.config import Claim, claim_problems, problems_from, read_yaml
from optbasin.errors import ConfigError, Problem

__all__ = ["Claim", "claim_spec", "evaluate_claims", "load_claims", "parse_claims", "claims_from_sweep_yaml"]

DECISIVE = ("supported", "contradicted")


def claim_spec(claim: Claim, settings) -> MetricSpec:
    """The leaderboard metric a claim is about (defaults from the analysis settings)."""
    if claim.metric == "basin_width":
        scope = claim.scope or "own"
        if claim.delta is not None:
            return MetricSpec("basin_width", delta=claim.delta, scope=scope)
        return MetricSpec("basin_width", eps=claim.tolerance if claim.tolerance is not None else settings.eps[0],
                          scope=scope)
    if claim.metric == "expected_best_k":
        return MetricSpec("expected_best_k", k=claim.k)
    if claim.metric == "tunability":
        return MetricSpec("tunability", weighting=claim.weighting or "uniform")
    if claim.metric == "alpha_tunability":
        return MetricSpec("alpha_tunability", alpha=claim.alpha if claim.alpha is not None else settings.alpha)
    return MetricSpec(claim.metric)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


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
VERDICT_COLUMNS = ["claim", "metric", "a", "b", "direction", "effect_kind", "tasks", "seeds", "verdict",
                   "p_value", "p_opposite", "effect", "ci_low", "ci_high", "threshold", "reason", "caveats",
                   "per_task", "level", "tests", "description"]
TASK_COLUMNS = ["claim", "task", "metric", "a", "b", "direction", "effect_kind", "seeds", "value_a", "value_b",
                "effect", "ci_low", "ci_high", "p_claimed", "p_opposite", "p_claimed_holm", "p_opposite_holm",
                "verdict", "reason", "edge_a", "edge_b", "points_a", "points_b", "caveats"]


@dataclass
class TaskTest:
    """One claim on one task: the paired test's inputs and outcome."""

    task: str
    row: dict[str, Any]
    d: np.ndarray | None = None               # per-seed effects (None: no test, see row["reason"])
    swap: tuple | None = None                 # (A's, B's (P, m) results, statistic): recompute under swaps
    reversible: dict[str, bool] = field(default_factory=dict)  # verdict -> a grid cut could reverse it


def evaluate_claims(claims: list[Claim], leaderboard: pd.DataFrame, seedvals: dict, settings
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts: one row per claim, by_task: one row per claim and task).

    seedvals: (task, optimizer) -> robustness.GroupResult of robustness.seed_values."""
    plans = [_plan(c, leaderboard, seedvals, settings) for c in claims]
    tests = [t for _, ts in plans for t in ts if t.d is not None]
    raw = []
    for t in tests:
        greater, less = swap_pvalues(*t.swap, settings.seed) if t.swap else sign_flip_pvalues(t.d, settings.seed)
        claimed, opposite = (greater, less) if t.row["direction"] == "greater" else (less, greater)
        t.row["p_claimed"], t.row["p_opposite"] = claimed, opposite
        raw += [claimed, opposite]
    adjusted = holm(np.array(raw)) if raw else np.array([])
    family = len(raw)
    for i, t in enumerate(tests):
        t.row["p_claimed_holm"], t.row["p_opposite_holm"] = float(adjusted[2 * i]), float(adjusted[2 * i + 1])
        _decide(t, settings.level, family)
    verdicts = [_overall(c, head, ts, settings, family) for c, (head, ts) in zip(claims, plans)]
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
    ratio = claim.effect == "ratio"
    head: dict[str, Any] = {
        "claim": claim.name, "metric": spec.column, "a": a, "b": b, "direction": claim.direction,
        "effect_kind": claim.effect, "threshold": claim.threshold if claim.threshold is not None else float(ratio),
        "description": claim.description, "level": settings.level, "reason": None,
    }
    known = set(lb["task"]) if not lb.empty else set()
    if claim.task == "all":
        tasks = sorted(t for t in known if _cell(lb, t, a) is not None and _cell(lb, t, b) is not None)
        if not tasks:
            missing = [o for o in (a, b) if lb.empty or o not in set(lb["optimizer"])]
            head["reason"] = (f"optimizer(s) {', '.join(missing)} not in the results" if missing
                              else f"no task has both {a} and {b}")
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
    return head, [_task_test(claim, spec, t, _cell(lb, t, a), _cell(lb, t, b), seedvals, head, settings)
                  for t in tasks]


def _task_test(claim: Claim, spec: MetricSpec, task: str, ca: pd.Series, cb: pd.Series, seedvals: dict,
               head: dict, settings) -> TaskTest:
    a, b = claim.compare
    col = spec.column
    ratio = claim.effect == "ratio"
    ra, rb = seedvals[(task, a)], seedvals[(task, b)]
    row: dict[str, Any] = {k: head[k] for k in ("claim", "metric", "a", "b", "direction", "effect_kind")}
    row.update(task=task, seeds=0, value_a=float(ca.get(col, np.nan)), value_b=float(cb.get(col, np.nan)),
               effect=np.nan, ci_low=np.nan, ci_high=np.nan, p_claimed=np.nan, p_opposite=np.nan,
               p_claimed_holm=np.nan, p_opposite_holm=np.nan, verdict="inconclusive", reason="",
               edge_a=ca["best_at_edge"], edge_b=cb["best_at_edge"], points_a=int(ca["points"]),
               points_b=int(cb["points"]), caveats="; ".join(_caveats(task, ca, cb, spec)))
    test = TaskTest(task, row)
    if col not in ra.values:
        row["reason"] = f"metric column {col} was not computed"
        return test
    for opt, c, res in ((a, ca, ra), (b, cb, rb)):
        if col in res.undefined or not np.isfinite(float(c.get(col, np.nan))):
            why = _undefined(c, col) or res.undefined.get(col, "undefined")
            row["reason"] = f"{col} is undefined for {opt}: {why}"
            return test
    xa, xb = ra.values[col], rb.values[col]
    ran = ra.ran & rb.ran                                   # seeds both optimizers ran
    if ran.sum() < 2:
        row["seeds"], row["verdict"] = int(ran.sum()), "insufficient seeds"
        row["reason"] = (f"{int(ran.sum())} seed(s) run by both: a paired test needs 2 at least, and "
                         f"{seeds_needed(head['level'] / 2)} for one claim at level {head['level']:g}")
        return test
    bad = ran & ~(np.isfinite(xa) & np.isfinite(xb))
    if bad.any():
        who = [o for o, x in ((a, xa), (b, xb)) if (ran & ~np.isfinite(x)).any()]
        row["reason"] = (f"{col} is undefined on {int(bad.sum())} of {int(ran.sum())} seeds for {', '.join(who)} "
                         "(best point diverged, l* >= l0, budget beyond the trials, or one seed cannot cross-fit)")
        row["seeds"] = int(ran.sum())
        return test
    xa, xb = xa[ran], xb[ran]
    m = int(ran.sum())
    row["seeds"] = m
    null = head["threshold"]
    if ratio:
        if (xa <= 0).any() or (xb <= 0).any():
            row["reason"] = f"a ratio needs positive values of {col}"
            return test
        d = np.log(xa / xb) - np.log(null)
    else:
        d = xa - xb - null
    test.d = d
    if spec.name == "best_loss":
        if _same_grid(ra.group, rb.group):
            test.swap = (ra.group.loss[:, ran], rb.group.loss[:, ran], _cross_fit_effect(ratio, null))
        else:
            row["caveats"] = "; ".join(filter(None, [row["caveats"], f"{task}: different grids: the cross-fitted best "
                                                     "loss is tested by sign flips of its per-seed terms (approximate)"]))
    lo, hi = studentized_interval(d, settings.confidence, settings.resamples, settings.seed)
    if ratio:
        row["effect"], row["ci_low"], row["ci_high"] = (float(np.exp(v + np.log(null))) for v in (d.mean(), lo, hi))
    else:
        row["effect"], row["ci_low"], row["ci_high"] = (float(v + null) for v in (d.mean(), lo, hi))
    test.reversible = _reversible(spec, ra.cuts.get(col), rb.cuts.get(col), ran, ca, cb, claim.direction)
    return test


def _cross_fit_effect(ratio: bool, null: float):
    """The statistic of a best-loss claim: the studentized mean over seeds of the cross-fitted
    per-seed effect."""
    def statistic(la: np.ndarray, lb: np.ndarray) -> np.ndarray:
        a, b = cross_fit(la), cross_fit(lb)
        with np.errstate(all="ignore"):
            d = np.log(a / b) - np.log(null) if ratio else a - b - null
        return t_statistic(d)
    return statistic


def _same_grid(ga, gb) -> bool:
    """Both groups ran the same grid points (every hyperparameter column equal, in order)."""
    if len(ga.points) != len(gb.points):
        return False
    cols = sorted({c for c in (*ga.points.columns, *gb.points.columns) if c.startswith("hp.")})
    for c in cols:
        if c not in ga.points or c not in gb.points:
            return False
        x, y = ga.points[c].reset_index(drop=True), gb.points[c].reset_index(drop=True)
        if not ((x == y) | (x.isna() & y.isna())).all():
            return False
    return True


def _undefined(c: pd.Series, col: str) -> str:
    for part in str(c.get("undefined", "") or "").split("; "):
        if part.startswith(col + ": "):
            return part.removeprefix(col + ": ")
    return ""


def _reversible(spec: MetricSpec, cut_a, cut_b, ran, ca, cb, direction: str) -> dict[str, bool]:
    """Which decisive verdicts a grid cut could reverse. A basin cut by the grid is a lower bound:
    'A wider than B' could reverse when B's basin was cut (and vice versa). A cut Wortsman window
    covers less than its range, in an unknown direction: any cut could reverse either verdict."""
    kind = spec.entry.cut_kind
    if kind is None:
        return {}
    col = spec.column

    def was_cut(cuts, c) -> bool:
        return bool(cuts is not None and cuts[ran].any()) or bool(str(c.get(col + "_cut", "") or "")
                                                                  not in ("", "False", "nan"))

    a_cut, b_cut = was_cut(cut_a, ca), was_cut(cut_b, cb)
    if kind == "partial":
        return {"supported": a_cut or b_cut, "contradicted": a_cut or b_cut}
    a_found_higher = {"supported": direction == "greater", "contradicted": direction == "less"}
    # a lower bound can only grow: the lower one of the two could overtake the other
    return {v: (b_cut if higher else a_cut) for v, higher in a_found_higher.items()}


def _decide(t: TaskTest, level: float, family: int) -> None:
    r = t.row
    m = r["seeds"]
    if r["p_claimed_holm"] <= level:
        r["verdict"], r["reason"] = "supported", f"Holm-adjusted p = {r['p_claimed_holm']:.3g} <= {level:g}"
    elif r["p_opposite_holm"] <= level:
        r["verdict"] = "contradicted"
        r["reason"] = f"the opposite direction's Holm-adjusted p = {r['p_opposite_holm']:.3g} <= {level:g}"
    elif smallest_p(m) > level / family:
        r["verdict"] = "insufficient seeds"
        r["reason"] = (f"{m} seeds give p >= {smallest_p(m):.3g} > {level:g}/{family} (Holm over {family} one-sided "
                       f"tests): {seeds_needed(level / family)} seeds needed")
    else:
        r["reason"] = f"Holm-adjusted p = {r['p_claimed_holm']:.3g} (opposite {r['p_opposite_holm']:.3g}) > {level:g}"
    if r["verdict"] in DECISIVE and t.reversible.get(r["verdict"]):
        r["reason"] = f"would be {r['verdict']} ({r['reason']}), but a grid cut of {r['metric']} could reverse it"
        r["verdict"] = "inconclusive"


def _overall(claim: Claim, head: dict, tests: list[TaskTest], settings, family: int) -> dict[str, Any]:
    row = {k: head.get(k) for k in VERDICT_COLUMNS}
    row.update(seeds=0, p_value=np.nan, p_opposite=np.nan, effect=np.nan, ci_low=np.nan, ci_high=np.nan,
               caveats="", per_task="", tests=family)
    if head["reason"] is not None:
        row.update(verdict="inconclusive", reason=head["reason"])
        return row
    rows = [t.row for t in tests]
    verdicts = [r["verdict"] for r in rows]
    row["seeds"] = min(r["seeds"] for r in rows)
    row["p_value"] = max(r["p_claimed_holm"] for r in rows)     # NaN when some task has no test
    row["p_opposite"] = max(r["p_opposite_holm"] for r in rows)
    if len(rows) == 1:
        row.update(effect=rows[0]["effect"], ci_low=rows[0]["ci_low"], ci_high=rows[0]["ci_high"])
    distinct = set(verdicts)
    if len(distinct) == 1:
        verdict = verdicts[0]
    elif distinct & set(DECISIVE):
        verdict = "mixed"
    else:
        verdict = "insufficient seeds" if "insufficient seeds" in distinct else "inconclusive"
    n = len(rows)
    if verdict in DECISIVE:
        reason = f"{verdict} on every task ({n}); intersection-union p = {row['p_value' if verdict == 'supported' else 'p_opposite']:.3g}"
    elif verdict == "mixed":
        reason = "tasks disagree: " + ", ".join(f"{r['task']} {r['verdict']}" for r in rows)
    else:
        reason = rows[0]["reason"] if n == 1 else "; ".join(f"{r['task']}: {r['reason']}" for r in rows)
    row.update(verdict=verdict, reason=reason,
               caveats="; ".join(r["caveats"] for r in rows if r["caveats"]),
               per_task="; ".join(_per_task(r) for r in rows))
    return row


def _per_task(r: dict) -> str:
    ratio = r["effect_kind"] == "ratio"
    eff = "" if not np.isfinite(r["effect"]) else (
        f" {r['effect']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}]" if ratio
        else f" {r['effect']:+.4g} [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]")
    p = "" if not np.isfinite(r["p_claimed_holm"]) else f", p = {r['p_claimed_holm']:.3g}"
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
    if spec.name == "best_loss" and int(ca["points"]) != int(cb["points"]):
        out.append(f"{task}: grids differ in size ({int(ca['points'])} vs {int(cb['points'])} points): a larger "
                   "grid has more chances at a low loss; the cross-fitted best loss reduces but does not remove it")
    return out
