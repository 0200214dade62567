"""The metric registry: one entry per metric (direction, display name, unit, options, compute
function), and MetricSpec, one metric with its options and the column it is stored under.

Adding a metric touches this module only: its compute function (below, on the per-row context
built by robustness.py, context.Context), its entry in REGISTRY, and, if it takes options, its column name.
The analysis (robustness.py), the claims engine (claims.py, also for validating a claim's
options), the text summary (text.py) and the report read the entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optbasin.analysis import metrics as M
from optbasin.analysis.context import Context


@dataclass(frozen=True)
class MetricSpec:
    """One metric with its options; ``column`` is its name in the leaderboard."""

    name: str
    eps: float | None = None  # basin_width, relative tolerance
    delta: float | None = None  # basin_width, absolute tolerance
    scope: str = "own"  # basin_width: tolerance around the optimizer's own l* ("own"),
    # around the best l* of every optimizer on the task ("task"), or
    # floor-aware, l* + eps (l_ref - l*) ("floor")
    k: int | None = None  # expected_best_k
    weighting: str | None = None  # tunability: early | uniform | late
    alpha: float | None = None  # alpha_tunability
    window: tuple | None = None  # lr_sensitivity: a fixed lr range (a, b), or per optimizer
    # ((label, a, b), ...); None: centred on the best lr

    @property
    def column(self) -> str:
        if self.name == "basin_width":
            if self.scope == "floor":
                return f"basin_width_floor{self.eps:g}"
            kind = f"rel{self.eps:g}" if self.eps is not None else f"abs{self.delta:g}"
            return f"basin_width_{'task' if self.scope == 'task' else ''}{kind}"
        if self.name == "lr_sensitivity" and self.window is not None:
            if isinstance(self.window[0], tuple):  # per optimizer: named by its width in decades
                label, a, b = self.window[0]
                return f"lr_sensitivity_pilot{np.log10(b / a):.3g}dec_" + "_".join(w[0] for w in self.window)
            return f"lr_sensitivity_{self.window[0]:g}_{self.window[1]:g}"
        if self.name == "expected_best_k":
            return f"expected_best_k{self.k}"
        if self.name == "tunability":
            return f"tunability_{self.weighting}"
        if self.name == "alpha_tunability":
            return f"alpha_tunability_{self.alpha:g}"
        return self.name

    @property
    def entry(self) -> MetricDef:
        return REGISTRY[self.name]

    @property
    def lower_is_better(self) -> bool:
        return self.entry.lower_is_better


@dataclass(frozen=True)
class Computed:
    """A metric over the rows of a count matrix: values (u,), and where the grid cut it (u,)
    bool (the value is a bound, or covers less of the range than asked for) or None."""

    values: np.ndarray
    cut: np.ndarray | None = None
    detail: dict | None = None  # the point estimate's extra facts (basin ends), for the tables
    gaps: np.ndarray | None = None  # (u, 2, 2) the grid intervals holding a basin's uncut edges (Basin.gaps)


@dataclass(frozen=True)
class MetricDef:
    name: str
    lower_is_better: bool
    display: str
    unit: str
    options: tuple[str, ...]  # claim fields this metric accepts
    compute: Callable[[Context, MetricSpec], Computed]
    needs_lr: bool = False  # undefined when lr is not swept
    fails_with_optimum: bool = False  # undefined when the best point diverged or l* >= l0
    cut_kind: str | None = None  # what a grid cut means: "lower_bound" (the value can only
    # grow) or "partial" (it covers less than asked, either way)
    budgeted: bool = False  # a budget of k trials: undefined when k > N trials run
    margin: float = 0.0  # default smallest effect of interest of a claim, in `unit`
    # (docs/statistics.md, "Margins", says why each)


# ---------------------------------------------------------------------------------------------
# Compute functions (ctx: robustness.Context, rows = point estimate / resamples / single seeds)
# ---------------------------------------------------------------------------------------------


def _best_loss(ctx: Context, spec: MetricSpec) -> Computed:
    return Computed(ctx.lstar)


def threshold(ref: np.ndarray, spec: MetricSpec, floor: float = np.nan, l_ref: float = np.nan) -> np.ndarray:
    """Basin tolerance around a best loss ``ref``:
    floor-aware (scope floor)  ref + eps (l_ref - ref), l_ref the task's reference loss;
    relative                   ref + eps (ref - floor) when the task declares a floor (its known
                               minimum, e.g. a noise floor), else ref + eps |ref|;
    absolute                   ref + delta."""
    if spec.scope == "floor":
        return ref + spec.eps * (l_ref - ref)
    if spec.eps is None:
        return ref + spec.delta
    return ref + spec.eps * (ref - floor if np.isfinite(floor) else np.abs(ref))


def _basin_width(ctx: Context, spec: MetricSpec) -> Computed:
    ref = ctx.task_best if spec.scope == "task" else ctx.lstar
    t = threshold(ref, spec, ctx.g.l_min, ctx.g.l_ref)
    b = M.basin(ctx.x, ctx.curve, t)
    detail = {
        "low": float(10 ** b.low[0]),
        "high": float(10 ** b.high[0]),
        "cut_low": bool(b.cut_low[0]),
        "cut_high": bool(b.cut_high[0]),
        "disjoint": bool(b.disjoint[0]),
        "threshold": float(t[0]),
        "width_min": float(b.width_min[0]),
        "width_max": float(b.width_max[0]),
    }
    width = b.width
    if spec.scope == "floor":  # no basin when the best does not beat the reference predictor
        width = np.where(ctx.lstar < ctx.g.l_ref, width, np.nan)
    return Computed(width, b.cut_low | b.cut_high, detail, b.gaps)


def _lr_sensitivity(ctx: Context, spec: MetricSpec) -> Computed:
    s = ctx.settings
    window = spec.window or s.lr_range
    if window is not None and isinstance(window[0], tuple):  # per optimizer (an optimizer not named: none)
        window = next(((a, b) for label, a, b in window if label == ctx.g.optimizer), None)
        if window is None:
            return Computed(np.full(ctx.u, np.nan))
    if window is not None:
        lo = np.full(ctx.u, np.log10(window[0]))
        hi = np.full(ctx.u, np.log10(window[1]))
    else:  # centred on the best lr over every seed: one window for all rows (never a seed's own best)
        centre = np.full(ctx.u, ctx.all_seeds_best_log_lr)
        lo, hi = centre - s.lr_decades / 2, centre + s.lr_decades / 2
    value, cut = M.lr_sensitivity(ctx.x, ctx.curve, ctx.l0, ctx.lstar, lo, hi)
    return Computed(value, cut)


def _beyond_trials(values: np.ndarray, k: int, n_trials: np.ndarray) -> np.ndarray:
    """Dodge's and Sivaprasad's curves are defined for k <= N (N = trials): NaN beyond."""
    return np.where(k <= n_trials, values, np.nan)


def _expected_best_k(ctx: Context, spec: MetricSpec) -> Computed:
    mean = M.expected_min(ctx.v, ctx.surv, np.array([spec.k]))[0][:, 0]
    return Computed(_beyond_trials(mean, spec.k, ctx.n_trials))


def _tunability(ctx: Context, spec: MetricSpec) -> Computed:
    K = ctx.settings.tunability_budget
    if "cp" not in ctx.cache:  # the three weightings share one computation
        ctx.cache["cp"] = M.cumulative_performance(ctx.v, ctx.surv, K)
    return Computed(_beyond_trials(ctx.cache["cp"][spec.weighting], K, ctx.n_trials))


def _alpha_tunability(ctx: Context, spec: MetricSpec) -> Computed:
    K = ctx.settings.tunability_budget
    return Computed(_beyond_trials(M.alpha_tunability(ctx.v, ctx.surv, K, spec.alpha), K, ctx.n_trials))


def _divergence_rate(ctx: Context, spec: MetricSpec) -> Computed:
    return Computed((ctx.w * ctx.g.trial_diverged).sum(axis=1) / ctx.w.sum(axis=1).clip(min=1))


def _divergence_rate_points(ctx: Context, spec: MetricSpec) -> Computed:
    g = ctx.g
    drawn = (ctx.counts > 0).astype(int)
    some_drawn = drawn @ np.isfinite(g.loss).T.astype(int) > 0  # (u, P)
    div_drawn = drawn @ g.diverged.T.astype(int) > 0
    div_all = g.diverged.any(axis=1)[None, :]
    return Computed(np.where(some_drawn, div_drawn, div_all).mean(axis=1))


def _time_per_step(ctx: Context, spec: MetricSpec) -> Computed:
    from optbasin.analysis.bootstrap import weighted_median

    return Computed(weighted_median(ctx.g.trial_time[None, :], ctx.w)[:, 0])


REGISTRY: dict[str, MetricDef] = {
    d.name: d
    for d in [
        MetricDef("best_loss", True, "best loss", "loss", ("tuning_seeds",), _best_loss, margin=0.01),
        MetricDef(
            "basin_width",
            False,
            "basin width",
            "decades of lr",
            ("tolerance", "delta", "scope"),
            _basin_width,
            needs_lr=True,
            fails_with_optimum=True,
            cut_kind="lower_bound",
            margin=0.25,
        ),
        MetricDef(
            "lr_sensitivity",
            True,
            "LR sensitivity (Wortsman)",
            "loss",
            ("window",),
            _lr_sensitivity,
            needs_lr=True,
            fails_with_optimum=True,
            cut_kind="partial",
            margin=0.01,
        ),
        MetricDef(
            "expected_best_k",
            True,
            "expected best after k trials (Dodge)",
            "loss",
            ("k",),
            _expected_best_k,
            budgeted=True,
            margin=0.01,
        ),
        MetricDef(
            "tunability",
            True,
            "tunability CP (Sivaprasad)",
            "loss",
            ("weighting",),
            _tunability,
            fails_with_optimum=True,
            budgeted=True,
            margin=0.01,
        ),
        MetricDef(
            "alpha_tunability",
            True,
            "alpha-tunability",
            "fraction of the budget",
            ("alpha",),
            _alpha_tunability,
            fails_with_optimum=True,
            budgeted=True,
            margin=0.1,
        ),
        MetricDef("divergence_rate", True, "divergence rate (trials)", "fraction", (), _divergence_rate, margin=0.05),
        MetricDef(
            "divergence_rate_points",
            True,
            "divergence rate (grid points)",
            "fraction",
            (),
            _divergence_rate_points,
            margin=0.05,
        ),
        MetricDef("time_per_step", True, "time per step", "s", (), _time_per_step),
    ]
}
RATIO_MARGIN = 1.05  # default margin of an effect: ratio claim (5%)


def entry_of_column(column: str) -> MetricDef | None:
    """The registry entry a leaderboard column belongs to (None for other columns)."""
    for name in sorted(REGISTRY, key=len, reverse=True):
        if column == name or column.startswith(name + "_") or (name == "expected_best_k" and column.startswith(name)):
            return REGISTRY[name]
    return None


def default_specs(settings) -> list[MetricSpec]:
    """The leaderboard's metrics for the given AnalysisSettings: basins at every tolerance around
    the optimizer's own best, and at the primary one around the task's best (shown side by side)."""
    specs = [MetricSpec("best_loss")]
    specs += [MetricSpec("basin_width", eps=e) for e in settings.eps]
    specs += [MetricSpec("basin_width", eps=settings.eps[0], scope="task")]
    specs += [MetricSpec("basin_width", eps=settings.eps[0], scope="floor")]
    specs += [MetricSpec("basin_width", delta=d) for d in settings.delta]
    specs += [MetricSpec("lr_sensitivity")]
    specs += [MetricSpec("expected_best_k", k=k) for k in settings.ks]
    specs += [MetricSpec("tunability", weighting=w) for w in ("early", "uniform", "late")]
    specs += [MetricSpec("alpha_tunability", alpha=settings.alpha)]
    specs += [MetricSpec("divergence_rate"), MetricSpec("divergence_rate_points"), MetricSpec("time_per_step")]
    return specs
