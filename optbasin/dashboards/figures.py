"""Plotly figures of an Analysis. Each function returns a go.Figure (or None when there is nothing
to draw); computing stays in optbasin.analysis, these only draw its tables.

Marks used throughout: a diverged grid point is an "x" (at the top of a sensitivity plot, on the
cell of a heatmap); the basin at the chosen tolerance is a shaded rectangle from l* to the
tolerance line across the basin's lr interval (dashed edge when the grid cuts it: a lower bound).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optbasin.analysis.specs import MetricSpec

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
MAX_CURVE_POINTS = 200  # per training curve


def colors(analysis) -> dict[str, str]:
    """A stable colour per optimizer label (sorted order)."""
    opts = sorted(analysis.leaderboard["optimizer"].unique()) if not analysis.leaderboard.empty else []
    return {o: PALETTE[i % len(PALETTE)] for i, o in enumerate(opts)}


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, x: str, y: str, log_x: bool = False, height: int = 430) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=13), x=0.01, xanchor="left"), height=height,
                      hovermode="closest", margin=dict(l=60, r=30, t=50, b=50), legend=dict(font=dict(size=11)))
    fig.update_xaxes(title_text=x)
    if log_x:
        fig.update_xaxes(type="log")
    fig.update_yaxes(title_text=y)
    return fig


def _label(v) -> str:
    """Axis label of a hyperparameter value: numbers compactly, anything else as text."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    return f"{v:.3g}"


def _order(analysis, task: str) -> list[str]:
    lb = analysis.leaderboard
    return lb[lb["task"] == task].sort_values("best_loss")["optimizer"].tolist()


def sensitivity_figure(analysis, task: str, eps: float | None = None) -> go.Figure | None:
    """Final loss against lr per optimizer (top): median over seeds with IQR and min-max bands,
    the basin at relative tolerance eps shaded from l* to the tolerance line. Below, one row per
    optimizer: its basin as a bar (a triangle where the grid's edge cuts it: a lower bound), its
    best lr as a dot, and an x at every lr where some seed diverged."""
    eps = analysis.settings.eps[0] if eps is None else eps
    curves = analysis.curves
    curves = curves[(curves["task"] == task) & (curves["axis"] == "lr")]
    if curves.empty:
        return None
    col = MetricSpec("basin_width", eps=eps).column
    lb = analysis.leaderboard.set_index(["task", "optimizer"])
    cmap = colors(analysis)
    order = [o for o in _order(analysis, task) if o in set(curves["optimizer"])]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05)
    for opt in order:
        c = curves[curves["optimizer"] == opt].sort_values("x")
        color, x = cmap[opt], c["x"].to_numpy(dtype=float)
        hover = [f"{opt}<br>lr {lr:.3g}<br>median {m:.4g} over {n} seed(s)<br>min {lo:.4g}, max {hi:.4g}"
                 + (f"<br>{d} diverged" if d else "")
                 for lr, m, n, lo, hi, d in zip(x, c["median"], c["n_seeds"], c["min"], c["max"], c["n_diverged"])]
        for lo, hi, alpha, name in (("min", "max", 0.10, "min-max"), ("q25", "q75", 0.22, "IQR")):
            fig.add_trace(go.Scatter(
                x=np.concatenate([x, x[::-1]]), y=np.concatenate([c[hi].to_numpy(float), c[lo].to_numpy(float)[::-1]]),
                fill="toself", fillcolor=_rgba(color, alpha), line=dict(width=0), hoverinfo="skip",
                name=f"{opt} {name}", legendgroup=opt, showlegend=False), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=c["median"], mode="lines+markers", name=opt, legendgroup=opt,
                                 line=dict(color=color, width=2), marker=dict(size=6), text=hover,
                                 hovertemplate="%{text}<extra></extra>"), row=1, col=1)
        r = lb.loc[(task, opt)] if (task, opt) in lb.index else None
        if r is not None and col + "_lr_low" in lb.columns and np.isfinite(r[col + "_lr_low"]):
            lo, hi, lstar = float(r[col + "_lr_low"]), float(r[col + "_lr_high"]), float(r["best_loss"])
            thr = lstar + eps * abs(lstar)
            cut = r[col + "_cut"] if isinstance(r[col + "_cut"], str) else ""
            label = (f"{opt} basin ({eps:g} rel.): {r[col]:.2f} decades, lr {lo:.3g} to {hi:.3g}"
                     + (f"; cut by the grid's edge ({cut}): a lower bound" if cut else ""))
            fig.add_trace(go.Scatter(
                x=[lo, hi, hi, lo, lo], y=[lstar, lstar, thr, thr, lstar], mode="lines", fill="toself",
                fillcolor=_rgba(color, 0.25), line=dict(color=color, width=1, dash="dash" if cut else "solid"),
                name=f"{opt} basin", legendgroup=opt, showlegend=False, text=[label] * 5,
                hovertemplate="%{text}<extra></extra>"), row=1, col=1)
            fig.add_trace(go.Scatter(
                x=[lo, hi], y=[opt, opt], mode="lines+markers", name=f"{opt} basin interval", legendgroup=opt,
                showlegend=False, line=dict(color=color, width=7),
                marker=dict(size=11, color=color, symbol=["triangle-left" if "low" in cut else "line-ns-open",
                                                          "triangle-right" if "high" in cut else "line-ns-open"]),
                text=[label] * 2, hovertemplate="%{text}<extra></extra>"), row=2, col=1)
        if r is not None and np.isfinite(r["best_lr"]):
            fig.add_trace(go.Scatter(x=[r["best_lr"]], y=[opt], mode="markers", name=f"{opt} best lr",
                                     legendgroup=opt, showlegend=False,
                                     marker=dict(symbol="circle", size=8, color="white", line=dict(width=2, color=color)),
                                     hovertemplate=f"{opt}: best lr %{{x:.3g}}<extra></extra>"), row=2, col=1)
        d = c[c["n_diverged"] > 0]
        if len(d):
            fig.add_trace(go.Scatter(
                x=d["x"], y=[opt] * len(d), mode="markers", name=f"{opt} diverged", legendgroup=opt,
                showlegend=False, marker=dict(symbol="x", size=10, color=color, line=dict(width=1, color="#222")),
                text=[f"{opt}: {k} of {n} seed(s) diverged at lr {lr:.3g}" for k, n, lr in
                      zip(d["n_diverged"], d["n_seeds"], d["x"])], hovertemplate="%{text}<extra></extra>"), row=2, col=1)
        f = c[c["n_failed"] > 0]
        if len(f):
            fig.add_trace(go.Scatter(
                x=f["x"], y=[opt] * len(f), mode="markers", name=f"{opt} failed", legendgroup=opt, showlegend=False,
                marker=dict(symbol="square-open", size=10, color="#555", line=dict(width=2)),
                text=[f"{opt}: {k} of {n} seed(s) failed (counted as l0) at lr {lr:.3g}" for k, n, lr in
                      zip(f["n_failed"], f["n_seeds"], f["x"])], hovertemplate="%{text}<extra></extra>"), row=2, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_xaxes(type="log", title_text="learning rate", row=2, col=1)
    fig.update_yaxes(title_text="final loss", row=1, col=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order[::-1], tickfont=dict(size=10),
                     row=2, col=1)
    fig.update_layout(title=dict(text=f"{task}: final loss vs lr (median over seeds; bands IQR, min-max; shaded: "
                                      f"basin within {eps:g} of l*)<br><sup>below: basin (bar; triangle = cut by the "
                                      "grid), best lr (o), diverged seeds (x), failed seeds (square)</sup>", font=dict(size=13), x=0.01),
                      height=340 + 24 * len(order), hovermode="closest", margin=dict(l=110, r=30, t=65, b=50),
                      legend=dict(font=dict(size=11)))
    return fig


def surface_figure(analysis, task: str, optimizer: str, y_axis: str) -> go.Figure | None:
    """Heatmap of the median loss over lr x y_axis; cells where every seed diverged are blank with
    an x, cells where some seeds diverged carry an open circle, some failed an open square, the
    best cell a star."""
    s = analysis.surfaces
    s = s[(s["task"] == task) & (s["optimizer"] == optimizer) & (s["y_axis"] == y_axis)]
    if s.empty:
        return None
    lrs, ys = np.sort(s["lr"].unique()), np.sort(s["y"].unique())
    xl, yl = [_label(v) for v in lrs], [_label(v) for v in ys]
    z = np.full((len(ys), len(lrs)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    xi, yi = np.searchsorted(lrs, s["lr"]), np.searchsorted(ys, s["y"])
    all_div = (s["n_diverged"] == s["n_seeds"]).to_numpy()
    z[yi, xi] = np.where(all_div, np.nan, s["median"].to_numpy(float))
    text[yi, xi] = [f"median {m:.4g} over {n} seed(s), {d} diverged" for m, n, d in
                    zip(s["median"], s["n_seeds"], s["n_diverged"])]
    lstar = np.nanmin(z) if np.isfinite(z).any() else 0.0
    eps = analysis.settings.eps[0]
    zmax = min(np.nanmax(z), lstar + 4 * eps * abs(lstar)) if np.isfinite(z).any() else 1.0
    fig = go.Figure(go.Heatmap(
        x=xl, y=yl, z=z, text=text, zmin=lstar, zmax=zmax, colorscale="Viridis_r",
        colorbar=dict(title=dict(text="loss", side="right")),
        hovertemplate="lr %{x}, " + y_axis + " %{y}<br>%{text}<extra></extra>", texttemplate="%{z:.3f}",
        textfont=dict(size=9)))
    full = s[all_div]
    some = s[(s["n_diverged"] > 0) & ~all_div]
    fig.add_trace(go.Scatter(x=[_label(v) for v in full["lr"]], y=[_label(v) for v in full["y"]], mode="markers",
                             name="diverged (all seeds)", marker=dict(symbol="x", size=14, color="#d62728"),
                             hovertemplate="diverged at every seed<extra></extra>"))
    if len(some):
        fig.add_trace(go.Scatter(x=[_label(v) for v in some["lr"]], y=[_label(v) for v in some["y"]],
                                 mode="markers", name="diverged (some seeds)",
                                 marker=dict(symbol="circle-open", size=14, color="#d62728", line=dict(width=2)),
                                 hovertemplate="some seeds diverged<extra></extra>"))
    failed = s[s["n_failed"] > 0]
    if len(failed):
        fig.add_trace(go.Scatter(x=[_label(v) for v in failed["lr"]], y=[_label(v) for v in failed["y"]],
                                 mode="markers", name="failed (some seeds)",
                                 marker=dict(symbol="square-open", size=18, color="#555", line=dict(width=2)),
                                 text=[f"{k} of {n} seed(s) failed (counted as l0)" for k, n in
                                       zip(failed["n_failed"], failed["n_seeds"])],
                                 hovertemplate="%{text}<extra></extra>"))
    if s["median"].notna().any():  # (no best while every point is still unknown, e.g. only failures so far)
        best = s.loc[s["median"].idxmin()]
        fig.add_trace(go.Scatter(x=[_label(best["lr"])], y=[_label(best["y"])], mode="markers", name="best",
                                 marker=dict(symbol="star", size=16, color="white", line=dict(width=1.5, color="black")),
                                 hovertemplate="best point<extra></extra>"))
    fig = _layout(fig, f"{task} / {optimizer}: median loss over lr x {y_axis}<br><sup>colour clipped at "
                       f"l* + {4 * eps:g}|l*|; x: every seed diverged, o: some diverged, square: some failed, star: best</sup>",
                  "learning rate", y_axis, height=440)
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
        fig.add_trace(go.Scatter(
            x=c["value"], y=c["best_loss"], mode="lines+markers", name=opt, line=dict(color=cmap[opt]),
            error_y=dict(type="data", symmetric=False, array=c["max"] - c["best_loss"],
                         arrayminus=c["best_loss"] - c["min"], thickness=1),
            text=[f"{opt}: {axis} {_label(v)}, best lr {lr:.3g}, loss {m:.4g}" for v, lr, m in
                  zip(c["value"], c["best_lr"], c["best_loss"])], hovertemplate="%{text}<extra></extra>"))
    return _layout(fig, f"{task}: best loss vs {axis} (each value at its own best lr; bars: min-max over seeds)",
                   axis, "best final loss")


def expected_best_figure(analysis, task: str) -> go.Figure | None:
    """Dodge's expected best after k random trials, +- one standard deviation."""
    e = analysis.expected_best
    e = e[e["task"] == task]
    if e.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt in _order(analysis, task):
        c = e[e["optimizer"] == opt]
        k, m, sd = c["k"].to_numpy(), c["expected_best"].to_numpy(), c["sd"].to_numpy()
        fig.add_trace(go.Scatter(x=np.concatenate([k, k[::-1]]), y=np.concatenate([m + sd, (m - sd)[::-1]]),
                                 fill="toself", fillcolor=_rgba(cmap[opt], 0.06), line=dict(width=0),
                                 hoverinfo="skip", legendgroup=opt, showlegend=False))
        fig.add_trace(go.Scatter(x=k, y=m, mode="lines", name=opt, legendgroup=opt, line=dict(color=cmap[opt])))
    return _layout(fig, f"{task}: expected best loss after k random trials (Dodge et al.; band: +-1 sd)",
                   "trials k", "expected best final loss", log_x=True)


def _downsample(df: pd.DataFrame, n: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """At most about n rows, evenly strided, always keeping the last."""
    if len(df) <= n:
        return df
    stride = math.ceil(len(df) / n)
    keep = np.zeros(len(df), dtype=bool)
    keep[::stride] = True
    keep[-1] = True
    return df[keep]


def best_trials(analysis, task: str) -> dict[str, str]:
    """optimizer -> trial_id of its lowest-loss trial at its best grid point."""
    t = analysis.trials
    t = t[t["task"] == task]
    lb = analysis.leaderboard.set_index(["task", "optimizer"])
    out = {}
    for opt, g in t.groupby("optimizer", sort=True):
        best_lr = lb.loc[(task, opt), "best_lr"] if (task, opt) in lb.index else np.nan
        at_best = g[np.isclose(g["hp.lr"].astype(float), best_lr)] if np.isfinite(best_lr) else g
        pick = at_best if len(at_best) else g
        out[opt] = str(pick.sort_values("loss").iloc[0]["trial_id"])
    return out


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
        fig.add_trace(go.Scatter(x=d["step"], y=d["train_loss"], mode="lines", name=f"{opt}", legendgroup=opt,
                                 line=dict(color=cmap[opt], width=1.5)))
        v = s[s["val_loss"].notna()]
        if len(v):
            v = _downsample(v)
            fig.add_trace(go.Scatter(x=v["step"], y=v["val_loss"], mode="markers", name=f"{opt} val",
                                     legendgroup=opt, showlegend=False, marker=dict(color=cmap[opt], size=5)))
    if not fig.data:
        return None
    return _layout(fig, f"{task}: training curves of each optimizer's best trial (line: train, dots: validation)",
                   "step", "loss")


DIAG_LABELS = {"diag.clamped_frac": "NAMO-D clamped-column fraction", "diag.truncated": "Momo truncation active (tau < lr)"}


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
                fig.add_trace(go.Scatter(x=d["step"], y=d[col], mode="lines", name=f"{opt}: {DIAG_LABELS[col]}",
                                         line=dict(color=cmap[opt], dash="solid" if col == "diag.clamped_frac" else "dot")))
    if not fig.data:
        return None
    fig.update_yaxes(range=[-0.02, 1.02])
    return _layout(fig, f"{task}: optimizer diagnostics over steps (best trials)", "step", "fraction")


def mechanism_figure(analysis, task: str, col: str, by: str) -> go.Figure | None:
    """A diag column (median over seeds of each trial's mean) against lr, one line per value of
    ``by`` (e.g. clamp_c for NAMO-D's clamped fraction, f_star for Momo's truncation share)."""
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
        values = sorted(g["hp." + by].dropna().unique()) if "hp." + by in g.columns else []
        for i, v in enumerate(values or [None]):
            c = g if v is None else g[g["hp." + by] == v]
            c = c.sort_values("hp.lr")
            label = opt if v is None else f"{opt}, {by}={_label(v)}"
            fig.add_trace(go.Scatter(x=c["hp.lr"], y=c[col], mode="lines+markers", name=label,
                                     line=dict(color=cmap[opt], dash=dashes[i % len(dashes)])))
    fig.update_yaxes(range=[-0.02, 1.02])
    return _layout(fig, f"{task}: {DIAG_LABELS.get(col, col)} vs lr (median over seeds of each run's mean)",
                   "learning rate", "fraction of steps / columns", log_x=True)


def profile_figure(analysis, metric: str) -> go.Figure | None:
    """Performance profile: fraction of tasks where the optimizer is within a factor tau of the best."""
    p = analysis.profiles
    p = p[p["metric"] == metric]
    if p.empty:
        return None
    cmap = colors(analysis)
    fig = go.Figure()
    for opt, c in p.groupby("optimizer", sort=True):
        fig.add_trace(go.Scatter(x=c["tau"], y=c["fraction"], mode="lines", line_shape="hv", name=opt,
                                 line=dict(color=cmap.get(opt, "#444"))))
    fig.update_yaxes(range=[-0.02, 1.05])
    return _layout(fig, f"Performance profile of {metric} across tasks", "tau (ratio to the best optimizer)",
                   "fraction of tasks within tau", height=380)
