"""The trend of each claim's effect with model size, across the sizes of one task family
(docs/statistics.md, section 9, has the definitions, the calibration and what it does not claim).

A ladder is a claim's tasks that share a task factory and differ in N, the parameter count of the
model as the trials recorded it (tasks/size.py). On each size t the claim's per-seed effects e_j
(claims.py's, in the claimed orientation: +-(a_j - b_j), +-log(a_j / b_j) for a ratio) give the
mean m_t, the sd s_t and the number of seeds n_t. With x_t = log10 N_t, the slope is the OLS slope
of the task means on x, a linear contrast:

    beta = sum_t w_t m_t,   w_t = (x_t - xbar) / sum_u (x_u - xbar)^2
    Var(beta) = sum_t w_t^2 s_t^2 / n_t                  (sizes are independent runs)
    df = min_t n_t - 1

df = min(n_t) - 1 rather than Welch-Satterthwaite's df (which is never smaller): with skewed per-seed
effects of unequal spread across sizes Welch's is anti-conservative (section 9's simulation; with a
very unequal spread both are). The interval is beta +- t_df se.

The trend has a margin, as every verdict does: delta, the claim's margin (in e's unit, the largest
over the sizes) per decade of N. Three findings, tested on the slope shifted by the margin (section
5's three, with a t test in place of the sign flips):

    grows with size     beta > +delta    p_g = P(t_df >= (beta - delta) / se)
    shrinks with size   beta < -delta    p_s = P(t_df <= (beta + delta) / se)
    stable with size    |beta| < delta   p_e = max(P(t_df >= (beta + delta) / se), P(t_df <= (beta - delta) / se))

and one two-sided p per claim, p = min(1, 2 min(p_g, p_s, p_e)), whose smallest term names the
finding. Holm over every claim's trend p (one family, at the analysis' level): a finding when the
adjusted p <= level, "inconclusive" otherwise, "undefined" (NaN, with the reason) with fewer than 3
sizes, a size with fewer than 3 seeds, no per-seed effects, tasks of different factories, or two
tasks with one N. A slope inside the margin is never "grows" or "shrinks", however many seeds.

The fitted line at a paper's N* (settings.extrapolate_n, GPT-2 small's 124e6 by default) is the
contrast with weights c_t = 1/T + (x* - xbar) w_t, reported in columns named
extrapolation_not_measured: a straight line through 3-4 sizes, extended, not a measurement.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from optbasin.analysis.claims import _plan
from optbasin.analysis.significance import holm

MIN_SIZES = 3
MIN_SEEDS = 3
EXTRAPOLATION = "extrapolation, not measured"
TREND_FINDINGS = ("grows with size", "shrinks with size", "stable with size")
COLUMNS = [
    "claim",
    "metric",
    "a",
    "b",
    "direction",
    "effect_kind",
    "factory",
    "tasks",
    "n_params",
    "sizes",
    "seeds",
    "slope",
    "slope_se",
    "df",
    "ci_low",
    "ci_high",
    "margin",
    "p_grows",
    "p_shrinks",
    "p_stable",
    "p_value",
    "p_holm",
    "tests",
    "level",
    "verdict",
    "reason",
    "caveats",
    "intercept",
    "extrapolation_n",
    "extrapolation_not_measured",
    "extrapolation_not_measured_low",
    "extrapolation_not_measured_high",
]
SIZE_COLUMNS = [
    "claim",
    "task",
    "factory",
    "n_params",
    "n_params_reason",
    "log10_n",
    "seeds",
    "mean",
    "sd",
    "effect",
    "ci_low",
    "ci_high",
    "e_effect",
    "e_low",
    "e_high",
    "margin_e",
    "verdict",
    "used",
    "why_not",
]


@dataclass(frozen=True)
class Contrast:
    """sum_t c_t m_t with its standard error, t interval and two-sided p of "= 0"."""

    value: np.ndarray
    se: np.ndarray
    df: np.ndarray
    p: np.ndarray
    low: np.ndarray
    high: np.ndarray


def slope_weights(x: np.ndarray) -> np.ndarray:
    """w_t = (x_t - xbar) / sum (x - xbar)^2: sum_t w_t m_t is the OLS slope of m on x."""
    xc = x - x.mean()
    return xc / (xc**2).sum()


def contrast(c: np.ndarray, m: np.ndarray, s: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> Contrast:
    """The linear contrast sum_t c_t m_t of independent means m_t (sd s_t over n_t seeds), with
    Var = sum_t c_t^2 s_t^2 / n_t and df = min_t n_t - 1. m, s: (..., T); c, n: (T,)."""
    value = (c * m).sum(-1)
    se = np.sqrt((c**2 * s**2 / n).sum(-1))
    df = np.broadcast_to(np.min(n) - 1.0, value.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(value / se), df), np.where(value != 0, 0.0, 1.0))
    q = stats.t.ppf(0.5 + confidence / 2, df)
    return Contrast(value, se, df, p, value - q * se, value + q * se)


def slope(x: np.ndarray, m: np.ndarray, s: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> Contrast:
    """The OLS slope of the means m_t on x_t, as a contrast (module docstring)."""
    return contrast(slope_weights(x), m, s, n, confidence)


@dataclass(frozen=True)
class Findings:
    """The three margin-shifted tests of a slope (module docstring) and the claim's two-sided p."""

    grows: np.ndarray
    shrinks: np.ndarray
    stable: np.ndarray
    p: np.ndarray
    finding: np.ndarray  # 0 grows, 1 shrinks, 2 stable: the smallest of the three


def findings(b: Contrast, delta: float) -> Findings:
    """p_g (beta > delta), p_s (beta < -delta), p_e (|beta| < delta, TOST) of the slope b, and
    p = min(1, 2 min(p_g, p_s, p_e)). A zero se (every seed alike) gives t = +-inf."""

    def t(shift: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (b.value - shift) / b.se
        return np.where(b.se > 0, z, np.sign(b.value - shift) * np.inf)

    above, below = t(delta), t(-delta)  # (beta - delta) / se, (beta + delta) / se
    grows, shrinks = stats.t.sf(above, b.df), stats.t.cdf(below, b.df)
    stable = np.maximum(stats.t.sf(below, b.df), stats.t.cdf(above, b.df))
    three = np.stack([grows, shrinks, stable])
    return Findings(grows, shrinks, stable, np.minimum(1.0, 2 * three.min(0)), three.argmin(0))


def line_at(x: np.ndarray, m: np.ndarray, s: np.ndarray, n: np.ndarray, at: float, confidence: float) -> Contrast:
    """The fitted line's value at x = at: mbar + beta (at - xbar), weights 1/T + (at - xbar) w_t."""
    return contrast(1.0 / len(x) + (at - x.mean()) * slope_weights(x), m, s, n, confidence)


def task_sizes(trials: pd.DataFrame, tasks: list[str]) -> dict[str, tuple[str, float, str]]:
    """task label -> (factory, N, reason) from what the trials recorded: their task_factory and
    import_paths (a user's catalog directories), else (stores from before those columns) the
    built-in catalog entry of their task_name; and their task_params."""
    from optbasin.catalog import builtin
    from optbasin.tasks.size import parameter_count

    out: dict[str, tuple[str, float, str]] = {}
    catalog = builtin()
    for task in tasks:
        rows = trials[trials["task"] == task] if "task" in trials.columns else trials.iloc[:0]
        factory, paths = _recorded_factory(rows)
        name = str(rows["task_name"].iloc[0]) if len(rows) and "task_name" in rows.columns else ""
        if not factory and name in catalog.tasks:
            factory = catalog.tasks[name].factory
        if not factory:
            why = "its trials record no task entry" if not name else f"task entry {name!r} is not a built-in one"
            out[task] = ("", math.nan, f"no N: {why} and its trials record no task_factory")
            continue
        raw = rows["task_params"].dropna() if "task_params" in rows.columns else rows.iloc[:0, :0]
        if not len(raw):
            out[task] = (factory, math.nan, "no N: its trials record no task_params")
            continue
        n, why = parameter_count(factory, json.loads(raw.iloc[0]), paths)
        out[task] = (factory, n, f"no N: {why}" if why else "")
    return out


def _recorded_factory(rows: pd.DataFrame) -> tuple[str, tuple[str, ...]]:
    """(task_factory, import_paths) recorded by the trials (sweeps/rows.py), or ("", ())."""
    if "task_factory" not in rows.columns or not rows["task_factory"].notna().any():
        return "", ()
    first = rows[rows["task_factory"].notna()].iloc[0]
    raw = first.get("import_paths")
    paths = tuple(json.loads(raw)) if isinstance(raw, str) and raw else ()
    return str(first["task_factory"]), paths


ADAPTIVE_CAVEAT = (
    "seeds were added where a claim was open: the t interval and p assume seeds fixed in advance, "
    "so they are approximate here (the per-size decisions are the anytime-valid ones)"
)


def trend_tables(
    claims: list,
    by_task: pd.DataFrame,
    leaderboard: pd.DataFrame,
    seedvals: dict,
    trials: pd.DataFrame,
    settings,
    adaptive: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trend: one row per claim, trend_sizes: one row per claim and task). adaptive: seeds were
    added after looking (sequential.seeds_added_after_looking), so every fitted trend says its p is
    approximate."""
    quick = settings.model_copy(update={"resamples": 2})  # only the per-seed effects are used
    plans = [_plan(c, leaderboard, seedvals, quick) for c in claims]
    wanted = sorted({t.task for _, tests in plans if len(tests) >= MIN_SIZES for t in tests})
    sizes = task_sizes(trials, wanted) if wanted else {}
    rows, size_rows = [], []
    for head, tests in plans:
        row = {k: head[k] for k in ("claim", "metric", "a", "b", "direction", "effect_kind")}
        row.update({k: math.nan for k in COLUMNS if k not in row}, level=settings.level, caveats="")
        row.update(factory="", tasks=head["tasks"], n_params="", verdict="undefined")
        here = sorted((_size_row(head["claim"], t, by_task, sizes) for t in tests), key=_by_n)
        size_rows += here
        row["reason"] = _undefined(head, here)
        if row["reason"] is None:
            _fit(row, here, settings)
        rows.append(row)
    if adaptive:
        for row in rows:
            if row["reason"] is None:
                row["caveats"] = "; ".join(filter(None, [row["caveats"], ADAPTIVE_CAVEAT]))
    trend = pd.DataFrame(rows, columns=COLUMNS)
    if len(trend):
        trend["p_holm"] = holm(trend["p_value"].to_numpy(dtype=float))
        trend["tests"] = int(np.isfinite(trend["p_value"].to_numpy(dtype=float)).sum())
        for i in trend.index[np.isfinite(trend["p_holm"].to_numpy(dtype=float))]:
            trend.loc[i, ["verdict", "reason"]] = _verdict(trend.loc[i], settings.level)
    return trend, pd.DataFrame(size_rows, columns=SIZE_COLUMNS)


def _size_row(claim: str, t, by_task: pd.DataFrame, sizes: dict) -> dict:
    factory, n, n_why = sizes.get(t.task, ("", math.nan, "not counted: the claim has fewer than 3 tasks"))
    hit = by_task[(by_task["claim"] == claim) & (by_task["task"] == t.task)] if len(by_task) else by_task
    r = hit.iloc[0] if len(hit) else t.row
    e = t.e if t.swap is None else None
    why = ""
    if t.swap is not None:
        why = (
            "its test swaps raw results (the cross-fitted best loss): no independent per-seed effects; "
            "declare tuning_seeds: n"
        )
    elif e is None:
        why = f"no per-seed effects: {r['reason']}"
    elif not math.isfinite(n):
        why = n_why
    f = np.log if t.row["effect_kind"] == "ratio" else (lambda v: v)
    with np.errstate(all="ignore"):  # by_task's effect and interval, in the claim's orientation
        lo, hi = sorted(t.orient * float(f(r[k])) for k in ("ci_low", "ci_high"))
        e_effect = t.orient * float(f(r["effect"]))
    return {
        "claim": claim,
        "task": t.task,
        "factory": factory,
        "n_params": n,
        "n_params_reason": n_why,
        "log10_n": math.log10(n) if n > 0 else math.nan,
        "seeds": len(e) if e is not None else int(r["seeds"]),
        "mean": float(e.mean()) if e is not None else math.nan,
        "sd": float(e.std(ddof=1)) if e is not None and len(e) > 1 else math.nan,
        "effect": float(r["effect"]),
        "ci_low": float(r["ci_low"]),
        "ci_high": float(r["ci_high"]),
        "e_effect": e_effect,
        "e_low": lo,
        "e_high": hi,
        "margin_e": t.shift,
        "verdict": r["verdict"],
        "used": not why,
        "why_not": why,
    }


def _by_n(r: dict) -> tuple:
    return (not math.isfinite(r["n_params"]), r["n_params"] if math.isfinite(r["n_params"]) else 0, r["task"])


def _undefined(head: dict, here: list[dict]) -> str | None:
    """Why the claim has no trend, or None."""
    if head["reason"] is not None:
        return f"no task was tested: {head['reason']}"
    if len(here) < MIN_SIZES:
        return f"{len(here)} task(s): a trend needs {MIN_SIZES} sizes at least"
    used = [r for r in here if r["used"]]
    out = "; left out: " + _left_out(here) if len(used) < len(here) else ""
    if len({r["factory"] for r in used}) > 1:
        fs = ", ".join(sorted({f"{r['task']}: {r['factory']}" for r in used}))
        return f"tasks of different families are not a ladder (factories {fs}){out}"
    ns = [r["n_params"] for r in used]
    if len(set(ns)) < len(ns):
        same = [r["task"] for r in used if ns.count(r["n_params"]) > 1]
        return f"tasks {', '.join(same)} have the same N: a ladder's sizes differ in N{out}"
    if len(used) < MIN_SIZES:
        return f"{len(used)} size(s) with N and per-seed effects: a trend needs {MIN_SIZES} at least{out}"
    few = [f"{r['task']} has {r['seeds']}" for r in used if r["seeds"] < MIN_SEEDS]
    if few:
        return f"{', '.join(few)} seed(s): each size needs {MIN_SEEDS} at least{out}"
    return None


def _left_out(here: list[dict]) -> str:
    """The tasks left out of the fit, grouped by why: "a, b (why); c (why)"."""
    why: dict[str, list[str]] = {}
    for r in here:
        if not r["used"]:
            why.setdefault(r["why_not"], []).append(r["task"])
    return "; ".join(f"{', '.join(tasks)} ({w})" for w, tasks in why.items())


def has_ladder(sizes: pd.DataFrame) -> bool:
    """Whether some claim covers 3 tasks or more of one factory (trend_sizes): else a trend section
    would only say "undefined" (a study of quadratic, digits and gpt-tiny is no ladder)."""
    if not len(sizes):
        return False
    found = sizes[sizes["factory"].astype(str) != ""].groupby(["claim", "factory"]).size()
    return bool((found >= MIN_SIZES).any())


def _fit(row: dict, here: list[dict], settings) -> None:
    used = [r for r in here if r["used"]]  # in N order
    x = np.array([r["log10_n"] for r in used])
    m, s = np.array([r["mean"] for r in used]), np.array([r["sd"] for r in used])
    n = np.array([r["seeds"] for r in used], dtype=float)
    b = slope(x, m, s, n, settings.confidence)
    delta = max(float(r["margin_e"]) for r in used)
    f = findings(b, delta)
    at = line_at(x, m, s, n, math.log10(settings.extrapolate_n), settings.confidence)
    left = _left_out(here)
    row.update(
        factory=used[0]["factory"],
        tasks=",".join(r["task"] for r in used),
        n_params=",".join(f"{r['n_params']:.0f}" for r in used),
        sizes=len(used),
        seeds=int(n.min()),
        slope=float(b.value),
        slope_se=float(b.se),
        df=float(b.df),
        ci_low=float(b.low),
        ci_high=float(b.high),
        margin=delta,
        p_grows=float(f.grows),
        p_shrinks=float(f.shrinks),
        p_stable=float(f.stable),
        p_value=float(f.p),
        intercept=float(m.mean() - b.value * x.mean()),
        extrapolation_n=float(settings.extrapolate_n),
        extrapolation_not_measured=float(at.value),
        extrapolation_not_measured_low=float(at.low),
        extrapolation_not_measured_high=float(at.high),
        caveats="; ".join(
            [f"left out: {left}"] * bool(left)
            + [f"the value at N = {settings.extrapolate_n:.3g} is an {EXTRAPOLATION} (measured: {x.size} sizes)"]
        ),
    )


def _verdict(r: pd.Series, level: float) -> tuple[str, str]:
    units = "log ratio" if r["effect_kind"] == "ratio" else "effect"
    fit = (
        f"slope {r['slope']:+.3g} {units} per decade of N [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}] over "
        f"{int(r['sizes'])} sizes, margin {r['margin']:.3g} per decade, Holm-adjusted p = {r['p_holm']:.3g} "
        f"(trend family of {int(r['tests'])})"
    )
    if r["p_holm"] > level:
        return "inconclusive", f"neither a change beyond the margin nor one within it is shown: {fit} > {level:g}"
    word = TREND_FINDINGS[int(np.argmin([r["p_grows"], r["p_shrinks"], r["p_stable"]]))]
    what = {
        "grows with size": "the effect moves toward the claim by more than the margin per decade of N",
        "shrinks with size": "the effect moves away from the claim by more than the margin per decade of N",
        "stable with size": "the effect changes by less than the margin per decade of N",
    }[word]
    return word, f"{what}: {fit} <= {level:g}"
