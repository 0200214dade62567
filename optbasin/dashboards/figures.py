"""Plotly figures of an Analysis. Each function returns a go.Figure (or None when there is nothing
to draw); computing stays in optbasin.analysis, these only draw its tables.

Marks used throughout: a diverged grid point is an "x" (at the top of a sensitivity plot, on the
cell of a heatmap); the basin at the chosen tolerance is a shaded rectangle from l* to the
tolerance line across the basin's lr interval (dashed edge when the grid cuts it: a lower bound).

Marks that cannot lie: a filled trace (seed band, basin) is drawn as lines only and never takes
the hover, so a tooltip always names the optimizer of the point under the cursor; line figures
show one hover per x listing every optimizer. Each optimizer label keeps its colour from report
to report (``color_of``). A curve drawn along one axis holds the others at the optimizer's best
grid point, and the figure's title says at which values.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optbasin.analysis.curves import scale_of
from optbasin.analysis.grid import LR
from optbasin.analysis.loss_table import hp_columns
from optbasin.analysis.specs import MetricSpec

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#637939",
]
MAX_CURVE_POINTS = 200  # per training curve
LOSS = "final loss"  # the y axis of every loss figure; loss_axis() adds the unit
# The unit of each catalog task's loss (tasks/catalog/*.yaml); other tasks: "task's units".
LOSS_UNITS = {
    "quadratic": "MSE",
    "digits-mlp": "cross-entropy, nats",
    "digits-cnn": "cross-entropy, nats",
    "gpt-tiny": "cross-entropy, nats/token",
    "gpt2-small": "cross-entropy, nats/token",
}


def color_of(label: str) -> str:
    """An optimizer label's own colour: md5 of the label picks a slot of PALETTE, so a label keeps
    its colour in every report."""
    return PALETTE[int(hashlib.md5(label.encode()).hexdigest(), 16) % len(PALETTE)]


def colors(analysis) -> dict[str, str]:
    """label -> colour: ``color_of`` the label; when two labels of one report land on the same
    slot, the later one (sorted order) takes the next free slot."""
    opts = sorted(analysis.leaderboard["optimizer"].unique()) if not analysis.leaderboard.empty else []
    out, used = {}, set()
    for o in opts:
        i = PALETTE.index(color_of(o))
        while PALETTE[i] in used and len(used) < len(PALETTE):
            i = (i + 1) % len(PALETTE)
        out[o] = PALETTE[i]
        used.add(PALETTE[i])
    return out


def loss_axis(analysis, task: str, what: str = LOSS) -> str:
    """y-axis title of a loss figure: the metric and its unit (one place, for every figure)."""
    t = analysis.trials
    names = t.loc[t["task"] == task, "task_name"].dropna().unique() if "task_name" in t.columns else []
    unit = LOSS_UNITS.get(str(names[0]), "task's units") if len(names) == 1 else "task's units"
    return f"{what} ({unit})"


def best_point(analysis, task: str, optimizer: str) -> dict:
    """The optimizer's best grid point on the task, every swept axis: {"lr": 0.01, "clamp_c": 0.9}."""
    lb = analysis.leaderboard
    r = lb[(lb["task"] == task) & (lb["optimizer"] == optimizer)]
    return json.loads(r["best_point"].iloc[0]) if len(r) and isinstance(r["best_point"].iloc[0], str) else {}


def at_text(point: dict, skip: tuple[str, ...] = ()) -> str:
    """'clamp_c = 0.9, beta = 0.95' for the axes of ``point`` not in ``skip``."""
    return ", ".join(f"{k} = {value_label(v)}" for k, v in point.items() if k not in skip)


def where_drawn(analysis, task: str, optimizers, skip: tuple[str, ...]) -> str:
    """'namo_d at clamp_c = 0.9; namo at lr = 0.01' (optimizers with no other axis left out)."""
    parts = [f"{o} at {txt}" for o in optimizers if (txt := at_text(best_point(analysis, task, o), skip))]
    return "; ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


TOOLBAR_PX = 38  # plotly's mode bar: titles start below it


def _title(text: str) -> tuple[dict, int]:
    """A left-aligned title below the mode bar, and the top margin its lines need."""
    lines = text.count("<br>") + 1
    return (
        dict(
            text=text,
            font=dict(size=13),
            x=0.01,
            xanchor="left",
            xref="container",
            y=1,
            yref="container",
            yanchor="top",
            pad=dict(t=TOOLBAR_PX),
        ),
        TOOLBAR_PX + 19 * lines + 16,
    )


def _layout(
    fig: go.Figure, title: str, x: str, y: str, log_x: bool = False, height: int = 430, hover: str = "x unified"
) -> go.Figure:
    t, top = _title(title)
    fig.update_layout(
        title=t,
        height=height + top - 50,
        hovermode=hover,
        showlegend=True,
        margin=dict(l=70, r=30, t=top, b=50),
        legend=dict(font=dict(size=11)),
    )
    fig.update_xaxes(title_text=x)
    if log_x:
        fig.update_xaxes(type="log")
    fig.update_yaxes(title_text=y)
    return fig


def value_label(v) -> str:
    """Axis label of a hyperparameter value: numbers compactly, anything else as text."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    return f"{v:.3g}"


def _order(analysis, task: str) -> list[str]:
    lb = analysis.leaderboard
    return lb[lb["task"] == task].sort_values("best_loss")["optimizer"].tolist()


def _band(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, alpha: float, name: str, group: str) -> go.Scatter:
    """A shaded band between lo and hi: lines only (no corner markers), never takes the hover."""
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([hi, lo[::-1]]),
        mode="lines",
        fill="toself",
        fillcolor=_rgba(color, alpha),
        line=dict(width=0),
        hoverinfo="skip",
        name=name,
        legendgroup=group,
        showlegend=False,
    )


def near_range(lo: float, hi: float) -> list[float]:
    pad = 0.05 * (hi - lo if hi > lo else abs(hi) or 1.0)
    return [lo - pad, hi + pad]


def y_views(near: list[float], full: tuple[float, float], positive: bool) -> list[dict]:
    """Buttons: the near-optimum view (default), every point, log y (only when every value > 0)."""
    buttons = [
        dict(label="near the optimum", method="relayout", args=[{"yaxis.type": "linear", "yaxis.range": near}]),
        dict(
            label="all points",
            method="relayout",
            args=[{"yaxis.type": "linear", "yaxis.range": list(full), "yaxis.autorange": True}],
        ),
    ]
    if positive:
        buttons.append(dict(label="log y", method="relayout", args=[{"yaxis.type": "log", "yaxis.autorange": True}]))
    return [
        dict(
            type="buttons",
            direction="right",
            x=1,
            xanchor="right",
            y=1.0,
            yanchor="bottom",
            pad=dict(b=4),
            buttons=buttons,
            font=dict(size=10),
            showactive=True,
            active=0,
        )
    ]


def sensitivity_figure(analysis, task: str, eps: float | None = None) -> go.Figure | None:
    """Final loss against lr per optimizer (top): median over seeds with IQR and min-max bands,
    the basin at relative tolerance eps shaded from l* to the tolerance line, every other swept
    axis at the optimizer's best point. Below, one row per optimizer: its basin as a bar (a
    triangle where the grid's edge cuts it: a lower bound), its best lr as a dot, and an x at
    every lr where some seed diverged. The y range opens near the optimum: it spans every point
    where no seed diverged (diverged seeds count as l0 and would squash the curve); buttons
    switch to all points or log y."""
    eps = analysis.settings.eps[0] if eps is None else eps
    curves = analysis.curves
    curves = curves[(curves["task"] == task) & (curves["axis"] == "lr")]
    if curves.empty:
        return None
    col = MetricSpec("basin_width", eps=eps).column
    lb = analysis.leaderboard.set_index(["task", "optimizer"])
    cmap = colors(analysis)
    order = [o for o in _order(analysis, task) if o in set(curves["optimizer"])]
    apart = _search_apart(analysis)
    only_search = search_only(analysis, task)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05)
    for opt in order:
        c = curves[curves["optimizer"] == opt].sort_values("x")
        color, x = cmap[opt], c["x"].to_numpy(dtype=float)
        at = at_text(best_point(analysis, task, opt), skip=("lr",))
        hover = [
            f"{opt}: lr {lr:.3g}{', ' + at if at else ''}: median {m:.4g} over {plural(n, 'seed')}"
            f" (min {lo:.4g}, max {hi:.4g})" + (f", {d} diverged" if d else "")
            for lr, m, n, lo, hi, d in zip(x, c["median"], c["n_seeds"], c["min"], c["max"], c["n_diverged"])
        ]
        for lo, hi, alpha, name in (("min", "max", 0.10, "min-max"), ("q25", "q75", 0.22, "IQR")):
            fig.add_trace(
                _band(x, c[lo].to_numpy(float), c[hi].to_numpy(float), color, alpha, f"{opt} {name}", opt), row=1, col=1
            )
        sampled = opt in only_search  # no grid yet: the search's points, not joined into a curve
        fig.add_trace(
            go.Scatter(
                x=x,
                y=c["median"],
                mode="markers" if sampled else "lines+markers",
                name=f"{opt} (search points)" if sampled else opt,
                legendgroup=opt,
                line=dict(color=color, width=2),
                marker=dict(size=6, color=color),
                text=hover,
                hovertemplate="%{text}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        if (task, opt) in apart.groups:
            fig.add_trace(_search_markers(apart.get_group((task, opt)), opt, color), row=1, col=1)
        r = lb.loc[(task, opt)] if (task, opt) in lb.index else None
        if r is not None and col + "_lr_low" in lb.columns and np.isfinite(r[col + "_lr_low"]):
            lo, hi, lstar = float(r[col + "_lr_low"]), float(r[col + "_lr_high"]), float(r["best_loss"])
            thr = lstar + eps * abs(lstar)
            cut = r[col + "_cut"] if isinstance(r[col + "_cut"], str) else ""
            label = f"{opt} basin ({eps:g} rel.): {r[col]:.2f} decades, lr {lo:.3g} to {hi:.3g}" + (
                f"; cut by the grid's edge ({cut}): a lower bound" if cut else ""
            )
            fig.add_trace(
                go.Scatter(
                    x=[lo, hi, hi, lo, lo],
                    y=[lstar, lstar, thr, thr, lstar],
                    mode="lines",
                    fill="toself",
                    fillcolor=_rgba(color, 0.25),
                    line=dict(color=color, width=1, dash="dash" if cut else "solid"),
                    name=f"{opt} basin",
                    legendgroup=opt,
                    showlegend=False,
                    text=[label] * 5,
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=[lo, hi],
                    y=[opt, opt],
                    mode="lines+markers",
                    name=f"{opt} basin interval",
                    legendgroup=opt,
                    showlegend=False,
                    line=dict(color=color, width=7),
                    marker=dict(
                        size=11,
                        color=color,
                        symbol=[
                            "triangle-left" if "low" in cut else "line-ns-open",
                            "triangle-right" if "high" in cut else "line-ns-open",
                        ],
                    ),
                    text=[label] * 2,
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=2,
                col=1,
            )
        if r is not None and np.isfinite(r["best_lr"]):
            fig.add_trace(
                go.Scatter(
                    x=[r["best_lr"]],
                    y=[opt],
                    mode="markers",
                    name=f"{opt} best lr",
                    legendgroup=opt,
                    showlegend=False,
                    marker=dict(symbol="circle", size=8, color="white", line=dict(width=2, color=color)),
                    hovertemplate=f"{opt}: best lr %{{x:.3g}}<extra></extra>",
                ),
                row=2,
                col=1,
            )
        d = c[c["n_diverged"] > 0]
        if len(d):
            fig.add_trace(
                go.Scatter(
                    x=d["x"],
                    y=[opt] * len(d),
                    mode="markers",
                    name=f"{opt} diverged",
                    legendgroup=opt,
                    showlegend=False,
                    marker=dict(symbol="x", size=10, color=color, line=dict(width=1, color="#222")),
                    text=[
                        f"{opt}: {k} of {plural(n, 'seed')} diverged at lr {lr:.3g}"
                        for k, n, lr in zip(d["n_diverged"], d["n_seeds"], d["x"])
                    ],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=2,
                col=1,
            )
        f = c[c["n_failed"] > 0]
        if len(f):
            fig.add_trace(
                go.Scatter(
                    x=f["x"],
                    y=[opt] * len(f),
                    mode="markers",
                    name=f"{opt} failed",
                    legendgroup=opt,
                    showlegend=False,
                    marker=dict(symbol="square-open", size=10, color="#555", line=dict(width=2)),
                    text=[
                        f"{opt}: {k} of {plural(n, 'seed')} failed (counted as l0) at lr {lr:.3g}"
                        for k, n, lr in zip(f["n_failed"], f["n_seeds"], f["x"])
                    ],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=2,
                col=1,
            )
    c = curves[curves["optimizer"].isin(order)]
    ok = c[c["n_diverged"] == 0]
    near = ok if len(ok) else c
    lo, hi = float(near["q25"].min()), float(near["q75"].max())
    full = (float(c["min"].min()), float(c["max"].max()))
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_xaxes(type="log", title_text="learning rate", row=2, col=1)
    fig.update_yaxes(title_text=loss_axis(analysis, task), row=1, col=1)
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=order[::-1], tickfont=dict(size=10), row=2, col=1
    )
    where = where_drawn(analysis, task, order, skip=("lr",))
    title, top = _title(
        f"{task}: final loss vs lr (median over seeds; bands IQR, min-max; shaded: basin within "
        f"{eps:g} of l*)"
        + (f"<br><sup>other axes at each optimizer's best: {where}</sup>" if where else "")
        + "<br><sup>below: basin (bar; triangle = cut by the grid), best lr (o), diverged seeds (x), "
        "failed seeds (square)"
        + (
            "; open diamonds: search points off the grid (one seed each, in no curve or metric)"
            if any((task, o) in apart.groups for o in order)
            else ""
        )
        + "</sup>"
    )
    fig.update_layout(
        title=title,
        height=290 + top + 24 * len(order),
        hovermode="x unified",
        showlegend=True,
        margin=dict(l=110, r=30, t=top + 14, b=50),
        legend=dict(font=dict(size=11)),
        updatemenus=y_views(near_range(lo, hi), full, positive=full[0] > 0),
    )
    fig.update_yaxes(range=near_range(lo, hi), row=1, col=1)
    return fig


def _search_apart(analysis):
    """The search points kept off the grid (analysis/search_points.py), grouped by task x optimizer."""
    s = analysis.search
    if s.empty or LR not in s.columns:
        s = pd.DataFrame(columns=["task", "optimizer", LR, "loss"])
    return s.groupby(["task", "optimizer"], sort=True)


def search_only(analysis, task: str) -> set[str]:
    """Optimizers whose every trial on the task is a search point (a search not yet refined)."""
    t = analysis.trials
    if t.empty or "source" not in t.columns:
        return set()
    t = t[t["task"] == task]
    return set(t.groupby("optimizer")["source"].apply(lambda v: bool((v == "search").all())).loc[lambda v: v].index)


def _search_markers(points: pd.DataFrame, opt: str, color: str) -> go.Scatter:
    """The optimizer's search points off the grid: one marker per trial (one seed each), never a curve."""
    hover = [
        f"{opt}: search point, lr {lr:.3g}, seed {seed}: {status}, loss {loss:.4g}"
        for lr, seed, status, loss in zip(points[LR], points["seed"], points["status"], points["loss"])
    ]
    return go.Scatter(
        x=points[LR],
        y=points["loss"],
        mode="markers",
        name=f"{opt} search points",
        legendgroup=opt,
        marker=dict(symbol="diamond-open", size=8, color=color, line=dict(width=1.5)),
        text=hover,
        hovertemplate="%{text}<extra></extra>",
    )


def surface_figure(analysis, task: str, optimizer: str, y_axis: str) -> go.Figure | None:
    """Heatmap of the median loss over lr x y_axis; cells where every seed diverged are blank with
    an x, cells where some seeds diverged carry an open circle, some failed an open square, the
    best cell a star."""
    s = analysis.surfaces
    s = s[(s["task"] == task) & (s["optimizer"] == optimizer) & (s["y_axis"] == y_axis)]
    if s.empty:
        return None
    lrs, ys = np.sort(s["lr"].unique()), np.sort(s["y"].unique())
    xl, yl = [value_label(v) for v in lrs], [value_label(v) for v in ys]
    z = np.full((len(ys), len(lrs)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    label = np.full(z.shape, "", dtype=object)
    xi, yi = np.searchsorted(lrs, s["lr"]), np.searchsorted(ys, s["y"])
    all_div = (s["n_diverged"] == s["n_seeds"]).to_numpy()
    z[yi, xi] = np.where(all_div, np.nan, s["median"].to_numpy(float))
    text[yi, xi] = [
        f"median {m:.4g} over {plural(n, 'seed')}, {d} diverged"
        for m, n, d in zip(s["median"], s["n_seeds"], s["n_diverged"])
    ]
    label[yi, xi] = [f"{m:.3f}" if not a else "" for m, a in zip(s["median"], all_div)]
    lstar = np.nanmin(z) if np.isfinite(z).any() else 0.0
    eps = analysis.settings.eps[0]
    zmax = min(np.nanmax(z), lstar + 4 * eps * abs(lstar)) if np.isfinite(z).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            x=xl,
            y=yl,
            z=z,
            text=label,
            customdata=text,
            zmin=lstar,
            zmax=zmax,
            colorscale="Viridis_r",
            colorbar=dict(title=dict(text=loss_axis(analysis, task, "median final loss"), side="right")),
            hovertemplate="lr %{x}, " + y_axis + " %{y}<br>%{customdata}<extra></extra>",
            texttemplate="%{text}",
            textfont=dict(size=10),
        )
    )
    full = s[all_div]
    some = s[(s["n_diverged"] > 0) & ~all_div]
    fig.add_trace(
        go.Scatter(
            x=[value_label(v) for v in full["lr"]],
            y=[value_label(v) for v in full["y"]],
            mode="markers",
            name="diverged (all seeds)",
            marker=dict(symbol="x", size=14, color="#d62728"),
            hovertemplate="diverged at every seed<extra></extra>",
        )
    )
    if len(some):
        fig.add_trace(
            go.Scatter(
                x=[value_label(v) for v in some["lr"]],
                y=[value_label(v) for v in some["y"]],
                mode="markers",
                name="diverged (some seeds)",
                marker=dict(symbol="circle-open", size=14, color="#d62728", line=dict(width=2)),
                hovertemplate="some seeds diverged<extra></extra>",
            )
        )
    failed = s[s["n_failed"] > 0]
    if len(failed):
        fig.add_trace(
            go.Scatter(
                x=[value_label(v) for v in failed["lr"]],
                y=[value_label(v) for v in failed["y"]],
                mode="markers",
                name="failed (some seeds)",
                marker=dict(symbol="square-open", size=18, color="#555", line=dict(width=2)),
                text=[
                    f"{k} of {plural(n, 'seed')} failed (counted as l0)"
                    for k, n in zip(failed["n_failed"], failed["n_seeds"])
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    if s["median"].notna().any():  # (no best while every point is still unknown, e.g. only failures so far)
        best = s.loc[s["median"].idxmin()]
        fig.add_trace(
            go.Scatter(
                x=[value_label(best["lr"])],
                y=[value_label(best["y"])],
                mode="markers",
                name="best",
                marker=dict(symbol="square-open", size=34, color="white", line=dict(width=3)),
                hovertemplate="best point<extra></extra>",
            )
        )
    at = at_text(best_point(analysis, task, optimizer), skip=("lr", y_axis))
    fig = _layout(
        fig,
        f"{task} / {optimizer}: median loss over lr x {y_axis}"
        + (f" at {at}" if at else "")
        + f"<br><sup>colour clipped at l* + {4 * eps:g}|l*|; x: every seed diverged, o: some diverged, "
        "small square: some failed, white frame: best</sup>",
        "learning rate",
        y_axis,
        height=440,
        hover="closest",
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    fig.update_layout(legend=dict(orientation="h", y=-0.22), margin=dict(t=65))
    return fig


def best_along_figure(analysis, task: str, axis: str) -> go.Figure | None:
    """Best loss at each value of a non-lr axis (each value at its own best lr), min-max over seeds."""
    b = analysis.best_along
    b = b[(b["task"] == task) & (b["axis"] == axis)]
    if b.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, c in b.groupby("optimizer", sort=True):
        c = c.sort_values("value")
        fig.add_trace(
            go.Scatter(
                x=c["value"],
                y=c["best_loss"],
                mode="lines+markers",
                name=opt,
                line=dict(color=cmap[opt]),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=c["max"] - c["best_loss"],
                    arrayminus=c["best_loss"] - c["min"],
                    thickness=1,
                ),
                text=[
                    f"{opt}: {axis} {value_label(v)}, best lr {lr:.3g}, loss {m:.4g}"
                    for v, lr, m in zip(c["value"], c["best_lr"], c["best_loss"])
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    return _layout(
        fig,
        f"{task}: best loss vs {axis} (each value at its own best point of the other axes; bars: min-max over seeds)",
        axis,
        loss_axis(analysis, task, "best median final loss"),
    )


def expected_best_figure(analysis, task: str) -> go.Figure | None:
    """Dodge's expected best after k random trials, +- one standard deviation."""
    e = analysis.expected_best
    e = e[e["task"] == task]
    if e.empty:
        return None
    cmap = colors(analysis)
    t = analysis.trials
    floor = 0.0 if (t.loc[t["task"] == task, "loss"].dropna() >= 0).all() else -np.inf
    fig = go.Figure()
    for opt in _order(analysis, task):
        c = e[e["optimizer"] == opt]
        k, m, sd = c["k"].to_numpy(), c["expected_best"].to_numpy(), c["sd"].to_numpy()
        fig.add_trace(_band(k, np.maximum(m - sd, floor), m + sd, cmap[opt], 0.06, f"{opt} +-1 sd", opt))
        fig.add_trace(
            go.Scatter(
                x=k,
                y=m,
                mode="lines",
                name=opt,
                legendgroup=opt,
                line=dict(color=cmap[opt]),
                hovertemplate=f"{opt}: %{{y:.4g}}<extra></extra>",
            )
        )
    clip = ", clipped at 0: no loss is negative" if floor == 0 else ""
    return _layout(
        fig,
        f"{task}: expected best loss after k random trials (Dodge et al.; band: +-1 sd{clip})",
        "trials k",
        loss_axis(analysis, task, "expected best final loss"),
        log_x=True,
    )


def _downsample(df: pd.DataFrame, n: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """At most about n rows, evenly strided, always keeping the last."""
    if len(df) <= n:
        return df
    stride = math.ceil(len(df) / n)
    keep = np.zeros(len(df), dtype=bool)
    keep[::stride] = True
    keep[-1] = True
    return df[keep]


def _matches(column: pd.Series, value) -> np.ndarray:
    """Rows of a hyperparameter column equal to a best-point value (floats compared with isclose)."""
    if value is None:
        return column.isna().to_numpy()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and pd.api.types.is_numeric_dtype(column):
        return np.isclose(column.astype(float).to_numpy(), float(value))
    return (column.astype(str) == str(value)).to_numpy()


def best_trials(analysis, task: str) -> dict[str, str]:
    """optimizer -> trial_id of its lowest-loss seed at its best grid point (every swept axis)."""
    t = analysis.trials
    t = t[t["task"] == task]
    out = {}
    for opt, g in t.groupby("optimizer", sort=True):
        keep = np.ones(len(g), dtype=bool)
        for axis, value in best_point(analysis, task, opt).items():
            if "hp." + axis in g.columns:
                keep &= _matches(g["hp." + axis], value)
        pick = g[keep] if keep.any() else g
        out[opt] = str(pick.sort_values("loss", kind="stable").iloc[0]["trial_id"])
    return out


def _drawn_at(analysis, task: str, ids: dict[str, str]) -> str:
    """'namo_d at lr = 0.0316, clamp_c = 0.9, seed 1; ...': the grid point and seed of each curve."""
    t = analysis.trials.set_index("trial_id")
    return "; ".join(
        f"{o} at {at_text(best_point(analysis, task, o)) or 'its only point'}, seed {t.loc[i, 'seed']}"
        for o, i in ids.items()
        if i in t.index
    )


def training_figure(analysis, steps: pd.DataFrame, task: str, ids: dict[str, str]) -> go.Figure | None:
    """Train (line) and validation (markers) loss over steps of each optimizer's best trial."""
    if steps is None or steps.empty or not ids:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, tid in ids.items():
        s = steps[steps["trial_id"] == tid].sort_values("step")
        if s.empty:
            continue
        d = _downsample(s)
        fig.add_trace(
            go.Scatter(
                x=d["step"],
                y=d["train_loss"],
                mode="lines",
                name=f"{opt}",
                legendgroup=opt,
                line=dict(color=cmap[opt], width=1.5),
            )
        )
        v = s[s["val_loss"].notna()]
        if len(v):
            v = _downsample(v)
            fig.add_trace(
                go.Scatter(
                    x=v["step"],
                    y=v["val_loss"],
                    mode="markers",
                    name=f"{opt} val",
                    legendgroup=opt,
                    showlegend=False,
                    marker=dict(color=cmap[opt], size=5),
                )
            )
    if not fig.data:
        return None
    return _layout(
        fig,
        f"{task}: training curves of each optimizer's best trial (line: train, dots: validation)"
        f"<br><sup>{_drawn_at(analysis, task, ids)}</sup>",
        "step",
        loss_axis(analysis, task, "loss"),
    )


DIAG_LABELS = {
    "diag.clamped_frac": "NAMO-D clamped-column fraction",
    "diag.truncated": "Momo truncation active (tau < lr)",
}


def diagnostics_figure(analysis, steps: pd.DataFrame, task: str, ids: dict[str, str]) -> go.Figure | None:
    """NAMO-D's clamped fraction and Momo's truncation share over steps, for each best trial."""
    if steps is None or steps.empty:
        return None
    cols = [c for c in DIAG_LABELS if c in steps.columns]
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, tid in ids.items():
        s = steps[steps["trial_id"] == tid].sort_values("step")
        for col in cols:
            if s[col].notna().any():
                d = _downsample(s[s[col].notna()])
                fig.add_trace(
                    go.Scatter(
                        x=d["step"],
                        y=d[col],
                        mode="lines",
                        name=f"{opt}: {DIAG_LABELS[col]}",
                        line=dict(color=cmap[opt], dash="solid" if col == "diag.clamped_frac" else "dot"),
                    )
                )
    if not fig.data:
        return None
    fig.update_yaxes(range=[-0.02, 1.02])
    return _layout(
        fig,
        f"{task}: optimizer diagnostics over steps (best trials)<br><sup>{_drawn_at(analysis, task, ids)}</sup>",
        "step",
        "fraction (0 to 1)",
    )


def mechanism_figure(analysis, task: str, col: str, by: str) -> go.Figure | None:
    """A diag column (median over seeds of each trial's mean) against lr, one line per value of
    ``by`` (e.g. clamp_c for NAMO-D's clamped fraction, f_star for Momo's truncation share); any
    other swept axis at the optimizer's best point (the title says which)."""
    m = analysis.mechanisms
    if m.empty or col not in m.columns:
        return None
    m = m[(m["task"] == task) & m[col].notna()]
    if m.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    for opt, g in m.groupby("optimizer", sort=True):
        for axis, value in best_point(analysis, task, opt).items():
            if axis not in ("lr", by) and "hp." + axis in g.columns:
                g = g[_matches(g["hp." + axis], value)]
        values = sorted(g["hp." + by].dropna().unique()) if "hp." + by in g.columns else []
        for i, v in enumerate(values or [None]):
            c = g if v is None else g[g["hp." + by] == v]
            c = c.sort_values("hp.lr")
            label = opt if v is None else f"{opt}, {by}={value_label(v)}"
            fig.add_trace(
                go.Scatter(
                    x=c["hp.lr"],
                    y=c[col],
                    mode="lines+markers",
                    name=label,
                    line=dict(color=cmap[opt], dash=dashes[i % len(dashes)]),
                )
            )
    fig.update_yaxes(range=[-0.02, 1.02])
    where = where_drawn(analysis, task, sorted(m["optimizer"].unique()), skip=("lr", by))
    return _layout(
        fig,
        f"{task}: {DIAG_LABELS.get(col, col)} vs lr (median over seeds of each run's mean)"
        + (f"<br><sup>other axes at each optimizer's best: {where}</sup>" if where else ""),
        "learning rate",
        "fraction of steps / columns (0 to 1)",
        log_x=True,
    )


def profile_figure(analysis, metric: str) -> go.Figure | None:
    """Performance profile: fraction of tasks where the optimizer is within a factor tau of the best."""
    p = analysis.profiles
    p = p[p["metric"] == metric]
    if p.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, c in p.groupby("optimizer", sort=True):
        fig.add_trace(
            go.Scatter(
                x=c["tau"],
                y=c["fraction"],
                mode="lines",
                line_shape="hv",
                name=opt,
                line=dict(color=cmap.get(opt, "#444")),
            )
        )
    fig.update_yaxes(range=[-0.02, 1.05])
    return _layout(
        fig,
        f"Performance profile of {metric} across tasks",
        "tau (ratio to the best optimizer)",
        "fraction of tasks within tau",
        height=380,
    )


def _dimension(label: str, values: pd.Series) -> dict:
    """A parallel-coordinates axis: numbers as they are (log10 for a log-scaled axis), anything
    else as categories with their names as ticks."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.notna().all():
        v = values.astype(float).to_numpy()
        if scale_of("hp." + label, v) == "log":
            return dict(label=f"log10 {label}", values=np.log10(v).tolist())
        return dict(label=label, values=v.tolist())
    codes, names = pd.factorize(values.map(lambda v: "n/a" if pd.isna(v) else value_label(v)), sort=True)
    return dict(label=label, values=codes.tolist(), tickvals=list(range(len(names))), ticktext=list(names))


NARROWEST_FIG_PX = 560  # the report's narrowest figure card (the .grid CSS rule in dashboards/report.py)
LABEL_PX, TICK_PX = 12, 10  # font sizes of the parallel axes' titles and tick labels
GLYPH = 0.62  # a generous average glyph width, per px of font size, of plotly's default sans-serif
AXIS_TITLE_OFFSET = 28  # plotly.js draws a parallel axis's title this far above the axis (parcoords constants)


def text_px(text: str, size: int) -> float:
    """Estimated width in px of one line of ``text`` at font ``size`` (no browser to measure it)."""
    return len(text) * GLYPH * size


def parallel_labels(labels: list[str], first_ticks: list[str], right: int) -> tuple[int, int, int, float]:
    """(label angle, left margin, px above the axes, px between axes) so that no two axis titles
    overlap at the narrowest card: titles stay horizontal when each pair of neighbours fits in the
    gap between their axes (and the outer ones in the margins), else they stand vertical (-90
    degrees) and the space above the axes is the longest title's; the left margin holds the first
    axis's tick labels (drawn left of it)."""
    left = int(max(60, max((text_px(t, TICK_PX) for t in first_ticks), default=0) + 14))
    widths = [text_px(x, LABEL_PX) for x in labels]
    gap = (NARROWEST_FIG_PX - left - right) / max(len(labels) - 1, 1)
    fits = (
        all((a + b) / 2 + 6 <= gap for a, b in zip(widths, widths[1:]))
        and widths[0] / 2 <= left
        and widths[-1] / 2 <= right
    )
    if fits:
        return 0, left, AXIS_TITLE_OFFSET + LABEL_PX, gap
    return -90, left, AXIS_TITLE_OFFSET + int(max(widths)) + 6, gap


def fit_ticks(ticks: list[str], px: float) -> list[str]:
    """Category tick labels shortened ("compl…") to fit ``px`` (they are drawn left of their axis,
    towards the previous one), unless shortening would make two of them alike."""
    chars = max(int((px - 6) / (GLYPH * TICK_PX)), 2)
    short = [t if len(t) <= chars else t[: chars - 1] + "…" for t in ticks]
    return short if len(set(short)) == len(set(ticks)) else ticks


def parallel_figure(analysis, task: str) -> go.Figure | None:
    """Every trial of the task as one line across optimizer, each swept hyperparameter, status and
    final loss (diverged and failed trials at their initial loss l0, as in every metric); colour:
    final loss. Drag along an axis to select a range."""
    t = analysis.trials
    t = t[t["task"] == task]
    if t.empty:
        return None
    swept = [c for c in hp_columns(t) if t[c].nunique(dropna=True) > 1]
    status = pd.Series(np.where(t["failed"], 2, np.where(t["diverged"], 1, 0)), index=t.index)  # as the analysis counts
    dims = [_dimension("optimizer", t["optimizer"])]
    dims += [_dimension(c.removeprefix("hp."), t[c]) for c in swept]
    dims.append(
        dict(
            label="status",
            values=status.tolist(),
            tickvals=[0, 1, 2],
            ticktext=["completed", "diverged", "failed"],
            range=[0, 2],
        )
    )
    loss = t["loss"].astype(float)
    dims.append(dict(label=LOSS, values=loss.tolist()))  # its unit in the title: a short axis title
    lstar = float(loss.min())
    right = 130  # the colour bar's
    angle, left, above, gap = parallel_labels([d["label"] for d in dims], dims[0].get("ticktext", []), right)
    for d in dims[1:]:
        if "ticktext" in d:
            d["ticktext"] = fit_ticks(d["ticktext"], gap)
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            labelangle=angle,
            labelfont=dict(size=LABEL_PX),
            tickfont=dict(size=TICK_PX),
            line=dict(
                color=loss,
                colorscale="Viridis",
                reversescale=True,
                showscale=True,
                cmin=lstar,
                cmax=float(loss.quantile(0.9)) if len(loss) > 1 else lstar + 1,
                colorbar=dict(title=dict(text="loss", side="right"), x=1.05, xanchor="left"),
            ),
        )
    )
    title, top = _title(
        f"{task}: all {plural(len(t), 'trial')}<br><sup>axes: hyperparameters, status, "
        f"{loss_axis(analysis, task)}, diverged and failed at l0</sup><br><sup>drag along an axis "
        "to select; colour clipped at the 90th percentile of the loss</sup>"
    )
    fig.update_layout(title=title, height=410 + top + above, margin=dict(l=left, r=right, t=top + above, b=30))
    return fig


def history_figure(analysis, task: str) -> go.Figure | None:
    """Optimization history of a ``search:`` (Optuna) run: each trial's final loss in the order it
    finished, and the best so far, per optimizer."""
    t = analysis.trials
    t = t[(t["task"] == task) & (t["source"] == "search")] if "source" in t.columns else t.iloc[:0]
    if t.empty:
        return None
    order = "written_at" if "written_at" in t.columns else "trial_id"
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, g in t.groupby("optimizer", sort=True):
        g = g.sort_values(order, kind="stable")
        n = np.arange(1, len(g) + 1)
        fig.add_trace(
            go.Scatter(
                x=n,
                y=g["loss"],
                mode="markers",
                name=f"{opt} trials",
                legendgroup=opt,
                marker=dict(color=cmap[opt], size=6, opacity=0.6, symbol=np.where(g["diverged"], "x", "circle")),
                text=[f"{opt} #{i}: {s}, loss {v:.4g}" for i, s, v in zip(n, g["status"], g["loss"])],
                hovertemplate="%{text}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=n,
                y=g["loss"].cummin(),
                mode="lines",
                line_shape="hv",
                name=f"{opt} best so far",
                legendgroup=opt,
                line=dict(color=cmap[opt], width=2),
                hovertemplate=f"{opt} best so far: %{{y:.4g}}<extra></extra>",
            )
        )
    return _layout(
        fig,
        f"{task}: optimization history of the search (x: diverged, at l0)",
        "trial (in the order it finished)",
        loss_axis(analysis, task),
    )


def importance_figure(analysis, task: str) -> go.Figure | None:
    """Optuna's fANOVA importance of each swept hyperparameter, one bar group per optimizer that
    swept more than one (analysis/importance.py); the bars of an optimizer sum to 1."""
    imp = analysis.importance
    imp = imp[(imp["task"] == task) & imp["importance"].notna()] if not imp.empty else imp
    if imp.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, g in imp.groupby("optimizer", sort=True):
        g = g.sort_values("param")
        fig.add_trace(
            go.Bar(
                x=g["param"],
                y=g["importance"],
                name=opt,
                marker=dict(color=cmap.get(opt, "#444")),
                text=[f"{v:.2f}" for v in g["importance"]],
                textposition="outside",
                hovertemplate=[
                    f"{opt}: {p}: {v:.3f} of the variance over {n} grid points<extra></extra>"
                    for p, v, n in zip(g["param"], g["importance"], g["points"])
                ],
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.1])
    return _layout(
        fig,
        f"{task}: hyperparameter importance (Optuna fANOVA over each optimizer's swept axes; "
        "bars of an optimizer sum to 1)<br><sup>share of the variance of the median loss over the "
        "grid explained by each axis, from a random forest fitted to the grid points: descriptive, "
        "no interval over seeds</sup>",
        "hyperparameter",
        "importance (fraction of variance)",
        hover="closest",
    )


def trend_figure(analysis, claim: str) -> go.Figure | None:
    """A claim's effect against N (log x): each size's effect with its interval (the per-task
    verdicts', in the claim's orientation: up = toward the claim), the margin band, the fitted line
    solid over the measured sizes and dashed beyond them to the extrapolation's N, labelled."""
    sizes = analysis.trend_sizes
    rows = sizes[(sizes["claim"] == claim) & np.isfinite(sizes["n_params"].astype(float))]
    rows = rows[np.isfinite(rows["e_effect"].astype(float))].sort_values("n_params")
    if rows.empty:
        return None
    t = analysis.trend[analysis.trend["claim"] == claim].iloc[0]
    n = rows["n_params"].to_numpy(float)
    fig = go.Figure()  # the margin band (per size: a basin's margin may be raised to the grid's resolution)
    band_x = np.array([n.min() / 1.5, *n, n.max() * 1.5])
    margin = np.concatenate([[rows["margin_e"].iloc[0]], rows["margin_e"].to_numpy(float), [rows["margin_e"].iloc[-1]]])
    fig.add_trace(_band(band_x, -margin, margin, "#7f7f7f", 0.15, "margin", "margin"))
    for in_fit, part in rows.groupby(rows["used"].astype(bool), sort=False):
        y = part["e_effect"].to_numpy(float)
        fig.add_trace(
            go.Scatter(
                x=part["n_params"],
                y=y,
                mode="markers",
                name="per size: effect [interval]" if in_fit else "per size, not in the fit",
                marker=dict(size=9, color=PALETTE[0] if in_fit else "#7f7f7f", symbol="circle" if in_fit else "x"),
                error_y=dict(type="data", symmetric=False, array=part["e_high"] - y, arrayminus=y - part["e_low"]),
                customdata=np.stack([part["task"], part["seeds"], part["verdict"], part["why_not"]], axis=1),
                hovertemplate="%{customdata[0]}: N = %{x:.4g}, effect %{y:.4g}, %{customdata[1]} seeds, "
                "%{customdata[2]} %{customdata[3]}<extra></extra>",
            )
        )
    if np.isfinite(t["slope"]):
        line = lambda x: t["intercept"] + t["slope"] * np.log10(x)  # noqa: E731
        used = rows[rows["used"].astype(bool)]["n_params"].to_numpy(float)
        span = np.geomspace(used.min(), used.max(), 20)
        fig.add_trace(
            go.Scatter(
                x=span,
                y=line(span),
                mode="lines",
                name="fitted line (measured sizes)",
                line=dict(color=PALETTE[1]),
                hoverinfo="skip",
            )
        )
        star = float(t["extrapolation_n"])
        end = used.max() if star > used.max() else used.min()
        ext = np.geomspace(end, star, 20)
        label = f"extrapolation, not measured (N = {star:.3g})"
        fig.add_trace(
            go.Scatter(
                x=ext, y=line(ext), mode="lines", name=label, line=dict(color=PALETTE[1], dash="dash"), hoverinfo="skip"
            )
        )
        v = float(t["extrapolation_not_measured"])
        fig.add_trace(
            go.Scatter(
                x=[star],
                y=[v],
                mode="markers",
                name=f"{label} [interval]",
                marker=dict(symbol="circle-open", size=10, color=PALETTE[1]),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[t["extrapolation_not_measured_high"] - v],
                    arrayminus=[v - t["extrapolation_not_measured_low"]],
                ),
                hovertemplate=f"{label}: %{{y:.4g}}<extra></extra>",
            )
        )
        fig.add_annotation(x=math.log10(star), y=v, text="extrapolation, not measured", showarrow=True, ay=-30)
    a, b = (t["a"], t["b"]) if t["direction"] == "greater" else (t["b"], t["a"])
    e = f"log({a} / {b})" if t["effect_kind"] == "ratio" else f"{a} - {b}"
    slope = (
        ""
        if not np.isfinite(t["slope"])
        else f", slope {t['slope']:+.3g} per decade [{t['ci_low']:+.3g}, {t['ci_high']:+.3g}]"
    )
    return _layout(
        fig,
        f"{claim}: {t['verdict']}{slope}<br>effect in the claim's direction (up = toward the claim) vs model size",
        "N, parameters of the model (log scale)",
        f"e = {e} ({t['metric']})",
        log_x=True,
        height=400,
        hover="closest",
    )
