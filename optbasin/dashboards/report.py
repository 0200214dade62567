"""The self-contained HTML report: the content first (tables, empty figure boxes), then plotly.js
inlined once and every figure as JSON drawn by one script (progressively, so the page paints at
once), a leaderboard sortable within each task, claim verdicts, a filterable table of every
trial, the runs' metadata. Works offline (no server, no network).

Live mode (``live=True``, for a running sweep): the page also loads ``<name>.data.js`` written
beside it every time the report is rebuilt; that file calls ``optbasinUpdate(data)``, which swaps
changed sections and redraws figures in place with ``Plotly.react`` (uirevision: zoom, legend
and selections survive) and shows "n of N trials done, ETA". A file:// page cannot fetch() a
sibling file in Chromium, but it can insert a ``<script src>``, so the page re-inserts that
script every REFRESH_S seconds while the sweep runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import os
import re
import time
import uuid
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

from optbasin.analysis import Analysis, analyze, read_meta
from optbasin.analysis.analyze import run_inputs
from optbasin.analysis.loss_table import hp_columns
from optbasin.analysis.sequential import decisions
from optbasin.analysis.specs import MetricSpec
from optbasin.analysis.trend import EXTRAPOLATION, has_ladder
from optbasin.dashboards import figures as F
from optbasin.dashboards.figures import plural
from optbasin.dashboards.rounds import rounds_html
from optbasin.dashboards.verdicts import badge, num, verdicts_section
from optbasin.sweeps.run_status import session_started_at

REFRESH_S = 10
MIN_PROFILE_TASKS = 3  # a profile over one or two tasks is a step function of one comparison


class ReportWarning(UserWarning):
    """Something in the report was skipped (e.g. PNG export without kaleido)."""


def write_report(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    claims: Any = None,
    live: bool = False,
    png_dir: str | Path | None = None,
    settings: Any = None,
) -> Path:
    """Analyze run directories and write one self-contained HTML report to ``out``.

    claims: a claims YAML path or a list of claims; default the sweep file's claims (meta.json).
    live: also write ``<out stem>.data.js``, which an open page reloads every 10 s while the
    sweep runs (rebuild the report meanwhile: the page updates in place).
    png_dir: also export every figure as PNG there (kaleido, else a headless Chromium; skipped
    with a ReportWarning when neither is installed)."""
    from optbasin.sweeps.store import load_runs

    dirs = [Path(d) for d in run_dirs]
    trials, steps = load_runs(dirs)
    analysis = analyze(trials, steps, **run_inputs(dirs, claims, settings))
    metas = [(d, read_meta(d)) for d in dirs]
    return build_report(analysis, steps, metas, out, live=live, png_dir=png_dir)


def build_report(
    analysis: Analysis,
    steps: pd.DataFrame | None,
    metas: list[tuple[Path, dict]],
    out: str | Path,
    *,
    live: bool = False,
    png_dir: str | Path | None = None,
) -> Path:
    """Render an Analysis (plus the step table for training curves) to ``out``, atomically; in live
    mode also its data file (data_path(out)), the one an open page reloads."""
    out = Path(out)
    figs = collect_figures(analysis, steps)
    png_note = ""
    if png_dir is not None:
        png_note = export_png(figs, Path(png_dir))
    page = page_content(analysis, figs, metas, png_note=png_note, live=live)
    out.parent.mkdir(parents=True, exist_ok=True)
    if live:
        data = {k: v for k, v in page.items() if k != "template"}  # the page has the template already
        _write_atomic(data_path(out), f"optbasinUpdate({_script_json(to_json_plotly(data))});\n")
    _write_atomic(out, render_page(page, live=live, data_file=data_path(out).name))
    return out


def data_path(out: str | Path) -> Path:
    """The live data file beside a report: report.html -> report.data.js."""
    out = Path(out)
    return out.with_name(out.stem + ".data.js")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reading browser never sees a half-written file


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def collect_figures(a: Analysis, steps: pd.DataFrame | None) -> list[tuple[str, str, go.Figure]]:
    """(section, key, figure) for every figure of the report, tasks in order."""
    out: list[tuple[str, str, go.Figure]] = []
    if a.leaderboard.empty:
        return out

    def add(section: str, key: str, fig: go.Figure | None) -> None:
        if fig is not None and len(fig.data):
            out.append((section, _slug(key), fig))

    if steps is not None and not steps.empty:
        ids = {t: F.best_trials(a, t) for t in a.leaderboard["task"].unique()}
        wanted = {i for d in ids.values() for i in d.values()}
        steps = steps[steps["trial_id"].isin(wanted)]
    else:
        ids = {}
    for task in sorted(a.leaderboard["task"].unique()):
        add(task, f"{task}-sensitivity-lr", F.sensitivity_figure(a, task))
        add(task, f"{task}-history", F.history_figure(a, task))
        add(task, f"{task}-expected-best", F.expected_best_figure(a, task))
        add(task, f"{task}-training", F.training_figure(a, steps, task, ids.get(task, {})))
        add(task, f"{task}-diagnostics", F.diagnostics_figure(a, steps, task, ids.get(task, {})))
        s = a.surfaces[a.surfaces["task"] == task]
        for (opt, y), _ in s.groupby(["optimizer", "y_axis"], sort=True):
            add(task, f"{task}-{opt}-lr-x-{y}", F.surface_figure(a, task, opt, y))
        b = a.best_along[a.best_along["task"] == task]
        for axis in sorted(b["axis"].unique()):
            add(task, f"{task}-best-vs-{axis}", F.best_along_figure(a, task, axis))
        add(task, f"{task}-clamped-frac", F.mechanism_figure(a, task, "diag.clamped_frac", "clamp_c"))
        add(task, f"{task}-truncation", F.mechanism_figure(a, task, "diag.truncated", "f_star"))
        add(task, f"{task}-importance", F.importance_figure(a, task))
        add("trials", f"{task}-all-trials", F.parallel_figure(a, task))
    if has_ladder(a.trend_sizes):
        for claim in a.trend["claim"]:
            add("trend", f"trend-{claim}", F.trend_figure(a, claim))
    if a.leaderboard["task"].nunique() >= MIN_PROFILE_TASKS:
        for metric in a.profiles["metric"].unique() if not a.profiles.empty else []:
            add("profiles", f"profile-{metric}", F.profile_figure(a, metric))
    return out


def export_png(figs: list[tuple[str, str, go.Figure]], png_dir: Path) -> str:
    """Write each figure as PNG (kaleido, else headless Chromium); skip with a clear message when
    neither is available or rendering fails: the HTML report never depends on it."""
    from optbasin.dashboards.png import renderer, write_png

    if renderer() is None:
        msg = (
            "PNG export skipped: no renderer (install plotly's 'kaleido' package, or a Chromium such "
            "as Debian's 'chromium'); the HTML report is complete without it"
        )
        warnings.warn(msg, ReportWarning, stacklevel=3)
        return msg
    png_dir.mkdir(parents=True, exist_ok=True)
    try:
        for _, key, fig in figs:
            write_png(fig, png_dir / f"{key}.png")
    except Exception as e:  # a renderer that is present but unusable
        msg = f"PNG export failed ({e.__class__.__name__}: {e}); the HTML report is complete"
        warnings.warn(msg, ReportWarning, stacklevel=3)
        return msg
    return f"{len(figs)} PNG figure(s) written to {png_dir} ({renderer()})"


# ---------------------------------------------------------------------------------------------
# HTML: the page and its sections are templates (templates/*.html.j2, autoescaped), its CSS and
# JS static files (static/), all inlined into the one page; the cells of the tables are built here.
# ---------------------------------------------------------------------------------------------
TEMPLATES = Environment(
    loader=PackageLoader("optbasin.dashboards", "templates"), autoescape=True, undefined=StrictUndefined
)
TEMPLATES.filters["g"] = lambda x: f"{x:g}"


def _section(name: str, *args: Any) -> str:
    """One section's html: the macro ``name`` of templates/sections.html.j2."""
    return str(getattr(TEMPLATES.get_template("sections.html.j2").module, name)(*args))


def _cell(name: str, *args: Any, **kwargs: Any) -> Markup:
    """One table cell's html: the macro ``name`` of templates/cells.html.j2."""
    return getattr(TEMPLATES.get_template("cells.html.j2").module, name)(*args, **kwargs)


def _num(x: Any, fmt: str = ".4g") -> Markup:
    """verdicts.num as html: the number formatted, or a dash when undefined."""
    return Markup(num(x, fmt))


@functools.cache
def static_text(name: str) -> str:
    """A static file of the report (static/report.css, static/report.js), as inlined in the page."""
    return (resources.files("optbasin.dashboards") / "static" / name).read_text(encoding="utf-8")


def _sortval(x: Any) -> str:
    """A cell's sort key (data-v, escaped by the template): a number's repr, "" when undefined."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return "" if not np.isfinite(x) else repr(float(x))
    return str(x)


def _table(
    columns: list[str],
    rows: list[list[tuple[Any, str]]],
    cls: str = "sortable",
    tips: dict | None = None,
    group: int | None = None,
    tid: str = "",
) -> str:
    """rows of (sort value, html) cells. group: index of a column whose rows stay together when
    sorting (e.g. the task: the leaderboard sorts within each task)."""
    rows = [[(_sortval(v), h) for v, h in r] for r in rows]
    return TEMPLATES.get_template("table.html.j2").render(
        columns=columns, rows=rows, cls=cls, tips=tips or {}, group=group, tid=tid
    )


def _ci_cell(r: pd.Series, col: str, fmt: str = ".4g", at_least: bool = False) -> tuple[Any, Markup]:
    v = r.get(col, np.nan)
    lo, hi = r.get(col + "_lo", np.nan), r.get(col + "_hi", np.nan)
    return v, _cell("ci", _num(v, fmt), _num(lo, fmt), _num(hi, fmt), at_least=at_least)


def leaderboard_html(a: Analysis) -> str:
    s = a.settings
    lb = a.leaderboard.sort_values(["task", "best_loss"])
    basins = (
        [MetricSpec("basin_width", eps=x).column for x in s.eps]
        + [MetricSpec("basin_width", eps=s.eps[0], scope="task").column]
        + [MetricSpec("basin_width", delta=d).column for d in s.delta]
    )
    ks = [f"expected_best_k{k}" for k in s.ks]
    alpha = MetricSpec("alpha_tunability", alpha=s.alpha).column
    others = {i: F.at_text(json.loads(p), skip=("lr",)) for i, p in lb["best_point"].items()}
    shown = any(others.values())  # a column only when some optimizer swept more than lr
    cols = (
        ["task", "optimizer", "seeds", "trials", "best loss", "best lr"]
        + ["best other axes"] * shown
        + [c.replace("basin_width_", "basin ") for c in basins]
        + ["lr sensitivity"]
        + [f"E[best | k={k}]" for k in s.ks]
        + [
            "CP early",
            "CP uniform",
            "CP late",
            f"alpha-tun. ({s.alpha:g})",
            "diverged (trials)",
            "diverged (points)",
            "failed",
            "s / step",
        ]
    )
    tips = {
        "best loss": "l*: lowest median-over-seeds final loss; [bootstrap interval over seeds]",
        "best lr": "lr of the best point; the warning sign marks an optimum on the grid's edge",
        "best other axes": "every other swept hyperparameter at the best grid point",
        "lr sensitivity": "Wortsman: log-uniform (trapezoid) mean of min(l, l0) - l* over the grid points within "
        + (f"{list(s.lr_range)}" if s.lr_range else f"{s.lr_decades:g} decades centred on the best lr"),
        "CP uniform": f"Sivaprasad tunability: weighted mean of P(k), k = 1..{s.tunability_budget}",
        **{
            f"E[best | k={k}]": "Dodge: expected best of k trials drawn from the N trials run (N counts trials: grid "
            "points x seeds); undefined (-) for k > N"
            for k in s.ks
        },
        "s / step": "median wall time per step over the trials timed alone (population members record a share "
        "of their population's time: undefined)",
        "diverged (trials)": "fraction of grid point x seed trials that diverged",
        "diverged (points)": "fraction of grid points where some seed diverged",
    }
    for c in basins:
        ref = "the task's best l* (every optimizer)" if "taskrel" in c else "this optimizer's l*"
        tips[c.replace("basin_width_", "basin ")] = (
            f"decades of lr within the tolerance of {ref} (linear "
            "interpolation in log10 lr); >= : cut by the grid's edge, a lower bound"
        )
    rows = []
    for i, r in lb.iterrows():
        cells = [
            (r["task"], r["task"]),
            (r["optimizer"], _cell("bold", r["optimizer"])),
            (r["seeds"], str(r["seeds"])),
            (r["trials"], str(r["trials"])),
            _ci_cell(r, "best_loss"),
            (r["best_lr"], _cell("best_lr", _num(r["best_lr"], ".3g"), r["best_at_edge"])),
        ]
        cells += [(others[i], _cell("or_dash", others[i]))] * shown
        for c in basins:
            cut = r.get(c + "_cut")
            cut = cut if isinstance(cut, str) else ""
            v, h = _ci_cell(r, c, ".2f", at_least=bool(cut))
            cells.append((v, _cell("basin", h, cut)))
        v, h = _ci_cell(r, "lr_sensitivity", ".3g")
        cells.append((v, _cell("lr_sensitivity", h, r.get("lr_sensitivity_cut") == "range")))
        cells += [_ci_cell(r, k) for k in ks]
        cells += [(r[c], _num(r[c])) for c in ("tunability_early", "tunability_uniform", "tunability_late")]
        cells.append(_ci_cell(r, alpha, ".2f"))
        cells.append(_ci_cell(r, "divergence_rate", ".0%"))
        cells.append(_ci_cell(r, "divergence_rate_points", ".0%"))
        cells.append((r["failed"], _cell("flagged", r["failed"], r["failed"])))
        cells.append((r["time_per_step"], _num(r["time_per_step"], ".3g")))
        rows.append(cells)
    primary = {
        "task",
        "optimizer",
        "seeds",
        "best loss",
        "best lr",
        "best other axes",
        basins[0].replace("basin_width_", "basin "),
        "diverged (trials)",
        "failed",
    }
    return _split_table(cols, rows, tips, primary)


def _defined(v: Any) -> bool:
    return not (v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)))


def _split_table(cols: list[str], rows: list[list[tuple[Any, str]]], tips: dict, primary: set[str]) -> str:
    """The leaderboard as what a reader decides on (the ``primary`` columns, first two: task and
    optimizer), the other columns a click away (<details>), and no column undefined in every row."""
    keep = [j for j, c in enumerate(cols) if any(_defined(r[j][0]) for r in rows)]
    first = [j for j in keep if cols[j] in primary]
    rest = [j for j in keep if cols[j] not in primary]

    def table(idx: list[int], tid: str) -> str:
        return _table([cols[j] for j in idx], [[r[j] for j in idx] for r in rows], tips=tips, group=0, tid=tid)

    out = table(first, "leaderboard-table")
    if rest:
        out += _section(
            "more_columns",
            plural(len(rest), "more column"),
            [cols[j] for j in rest],
            table([0, 1, *rest], "leaderboard-more"),
        )
    empty = [cols[j] for j in range(len(cols)) if j not in keep]
    if empty:
        out += _section("not_shown", empty)
    return out


def trials_html(a: Analysis) -> str:
    """Every trial, one row each (the section adds the filter: all words must appear in the row),
    sorted by a click on a column heading. Hyperparameters: those that take more than one value
    across the trials."""
    t = a.trials
    if t.empty:
        return ""
    hps = [c for c in hp_columns(t) if t[c].nunique(dropna=False) > 1]
    cols = [
        "trial",
        "task",
        "optimizer",
        "seed",
        "status",
        *[c.removeprefix("hp.") for c in hps],
        "final loss",
        "initial loss l0",
        "final train loss",
        "steps",
        "wall time (s)",
        "error",
    ]
    rows = []
    for r in t.sort_values(["task", "optimizer", "point_id", "seed"], kind="stable").to_dict("records"):
        status = r["status"]
        cells = [
            (r["trial_id"], _cell("small", r["trial_id"])),
            (r["task"], r["task"]),
            (r["optimizer"], r["optimizer"]),
            (r["seed"], str(r["seed"])),
            (status, _cell("flagged", status, status != "completed")),
        ]
        cells += [(r[c], F.value_label(r[c]) if pd.notna(r[c]) else _cell("or_dash", "")) for c in hps]
        cells += [
            (r["final_val_loss"], _num(r["final_val_loss"])),
            (r["l0"], _num(r["l0"])),
            (r["final_train_loss"], _num(r["final_train_loss"])),
            (r["steps_done"], _num(r["steps_done"], "g")),
            (r["wall_time"], _num(r["wall_time"], ".3g")),
            (str(r["error"] or ""), _cell("small", str(r["error"] or "")[:300])),
        ]
        rows.append(cells)
    return _table(cols, rows, tid="trials-table")


def sweep_doc(meta: dict) -> dict:
    """The sweep file kept in a run's meta.json, parsed ({} when absent or unreadable)."""
    import yaml

    try:
        doc = yaml.safe_load(meta.get("sweep_yaml") or "")
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def merge_warnings(a: Analysis, metas: list[tuple[Path, dict]]) -> list[str]:
    """Runs merged into one report that differ in budget, schedule or task parameters on a task they
    share: their trials are pooled as one task or kept apart per setting, so say so."""
    out = []
    t = a.trials
    for col, what in (("steps", "step budgets"), ("task_params", "task parameters")):
        if col in t.columns:
            for task, g in t.groupby("task", sort=True):
                values = sorted(g[col].dropna().astype(str).unique())
                if len(values) > 1:
                    out.append(
                        f"task {task}: trials with different {what} ({'; '.join(values)}) are pooled as one task"
                    )
    docs = [(d, sweep_doc(m)) for d, m in metas]
    # runs of different tasks (a size ladder's) are never pooled: a setting that differs between them is no warning
    tasks = [_run_tasks(t, m) for _, m in metas]
    shared = [(i, j) for i, j in itertools.combinations(range(len(docs)), 2) if _may_share(tasks[i], tasks[j])]
    for key in ("budget", "schedule"):
        values = [json.dumps(doc.get(key), sort_keys=True, default=str) for _, doc in docs]
        if any(values[i] != values[j] for i, j in shared):
            runs = "; ".join(f"{d}: {v}" for (d, _), v in zip(docs, values))
            out.append(
                f"merged runs differ in {key} ({runs}): a task that ran under several is kept apart, "
                "one task per setting (see the notes)"
            )
    return out


def _run_tasks(trials: pd.DataFrame, meta: dict) -> set | None:
    """The tasks of one run's trials; None when the trials do not say (then it may share any)."""
    if "sweep" not in trials.columns:
        return None
    return set(trials.loc[trials["sweep"] == meta.get("sweep"), "task"]) or None


def _may_share(a: set | None, b: set | None) -> bool:
    return a is None or b is None or bool(a & b)


def trend_html(a: Analysis) -> str:
    """The trend with model size: one row per claim (analysis/trend.py), then one per size."""
    star = f"at N = {a.settings.extrapolate_n:.3g} ({EXTRAPOLATION})"
    rows = []
    for _, r in a.trend.iterrows():
        rows.append(
            [
                (r["claim"], r["claim"]),
                (r["tasks"], f"{r['tasks']} (N = {r['n_params']})" if r["n_params"] else r["tasks"]),
                (
                    r["slope"],
                    _cell("ci", _num(r["slope"], "+.3g"), _num(r["ci_low"], "+.3g"), _num(r["ci_high"], "+.3g")),
                ),
                (r["p_holm"], _num(r["p_holm"], ".3g")),
                (r["verdict"], Markup(badge(r["verdict"]))),
                (
                    r["extrapolation_not_measured"],
                    _cell(
                        "ci",
                        _num(r["extrapolation_not_measured"], "+.3g"),
                        _num(r["extrapolation_not_measured_low"], "+.3g"),
                        _num(r["extrapolation_not_measured_high"], "+.3g"),
                    ),
                ),
                (r["reason"], r["reason"] + (f"; caveats: {r['caveats']}" if r["caveats"] else "")),
            ]
        )
    cols = ["claim", "sizes", "slope per decade of N [CI]", "p (Holm)", "trend", star, "why"]
    decided = decisions(a)
    sizes = [
        [
            (r["claim"], r["claim"]),
            (r["task"], r["task"]),
            (r["n_params"], _num(r["n_params"], ".4g") if np.isfinite(r["n_params"]) else r["n_params_reason"]),
            (r["seeds"], str(r["seeds"])),
            (r["e_effect"], _cell("ci", _num(r["e_effect"]), _num(r["e_low"]), _num(r["e_high"]))),
            (r["verdict"], decided.get((r["claim"], r["task"]), r["verdict"])),
            (r["used"], "yes" if r["used"] else f"no: {r['why_not']}"),
        ]
        for _, r in a.trend_sizes.iterrows()
    ]
    verdict = "verdict (anytime-valid)" if decided else "verdict"
    size_cols = ["claim", "task", "N", "seeds", "effect, claim's direction [interval]", verdict, "in the fit"]
    return _table(cols, rows) + _table(size_cols, sizes)


def verdicts_html(a: Analysis) -> str:
    return verdicts_section(a)


def meta_html(metas: list[tuple[Path, dict]], a: Analysis, png_note: str) -> str:
    runs = []
    for d, m in metas:
        elapsed = m.get("elapsed_s")
        runs.append(
            {
                "sweep": str(m.get("sweep", "?")),
                "dir": str(d),
                "command": " ".join(map(str, m.get("command") or [])),
                "sweep_file": str(m.get("sweep_file", "")),
                "times": f"{m.get('started_at', '?')} / {m.get('finished_at') or 'running'}",
                "elapsed": f"{elapsed:.0f} s" if isinstance(elapsed, (int, float)) else "?",
                "counts": ", ".join(f"{v} {k}" for k, v in sorted((m.get("counts") or {}).items())) or "none yet",
                "versions": ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()),
                "machine": ", ".join(f"{k}: {v}" for k, v in (m.get("machine") or {}).items()),
                "yaml": m.get("sweep_yaml"),
            }
        )
    t = a.trials
    analysed = ""
    if not t.empty:
        status = t["status"].value_counts().to_dict()
        analysed = f"{plural(len(t), 'trial')} ({', '.join(f'{v} {k}' for k, v in sorted(status.items()))})"
    return _section("runs", runs, not metas or not any(m for _, m in metas), png_note, analysed)


def notes_html(a: Analysis) -> str:
    failed = ""
    if not a.failed.empty:
        f = a.failed.head(100)
        rows = [
            [
                (r["trial_id"], r["trial_id"]),
                (r["task"], r["task"]),
                (r["optimizer"], r["optimizer"]),
                (r["seed"], str(r["seed"])),
                (r.get("hp.lr", np.nan), _num(r.get("hp.lr", np.nan), ".3g")),
                (str(r["error"]), _cell("small", str(r["error"])[:300])),
            ]
            for _, r in f.iterrows()
        ]
        failed = _table(["trial", "task", "optimizer", "seed", "lr", "error"], rows)
    return _section("notes", a.notes, failed, len(a.failed), 100)


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    return obj.replace("</", "<\\/") if isinstance(obj, str) else _script_json(json.dumps(obj))


def _rev(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:12]


def progress(a: Analysis, metas: list[tuple[Path, dict]]) -> dict[str, Any]:
    """Trials done of those planned and the ETA of a running sweep: the rate of this run so far
    (trials written since it started) times the trials left. None where not known (a ``search:``
    run's meta.json counts the grid, not the trials the search will sample)."""
    searching = any((sweep_doc(m).get("search") or {}).get("method") == "optuna" for _, m in metas)
    planned = None if searching else sum(int(m.get("trials_planned") or 0) for _, m in metas) or None
    running = any(m and not m.get("finished_at") for _, m in metas)
    done = int(a.trials["trial_id"].nunique()) if not a.trials.empty else 0
    eta = None
    starts = [dt.datetime.fromisoformat(session_started_at(m)).timestamp() for _, m in metas if session_started_at(m)]
    if running and planned and starts and not a.trials.empty and "written_at" in a.trials.columns:
        start = min(starts)
        this_run = int((a.trials["written_at"].astype(float) >= start).sum())
        if this_run:
            eta = (time.time() - start) / this_run * max(planned - done, 0)
    return {"done": done, "planned": planned, "running": running, "eta_s": eta}


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def status_html(a: Analysis, prog: dict[str, Any], live: bool) -> str:
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    n, total = prog["done"], prog["planned"]
    done = f"{n} of {plural(total, 'trial')} done" if total else f"{plural(n, 'trial')} done"
    eta = f", ETA {_clock(prog['eta_s'])}" if prog["eta_s"] is not None else ", ETA --"
    return _section("status", now, plural(len(a.trials), "trial"), prog["running"], done, eta, live, REFRESH_S)


def page_content(
    a: Analysis,
    figs: list[tuple[str, str, go.Figure]],
    metas: list[tuple[Path, dict]],
    *,
    png_note: str = "",
    live: bool = True,
) -> dict[str, Any]:
    """Everything the page shows, as data: the header's status line, the nav, the sections (id,
    html, rev) in order and the figures (id, section, height, rev, data, layout); a rev is a hash of
    the content, so a live update redraws only what changed. Both the page and the live data file
    carry this."""
    sweeps = sorted({str(m.get("sweep")) for _, m in metas if m.get("sweep")}) or ["(unnamed)"]
    prog = progress(a, metas)
    fig_list, template = [], None
    for section, key, fig in figs:
        d = fig.to_plotly_json()
        template = d["layout"].pop("template", template)
        fig_list.append(
            {
                "id": f"fig-{key}",
                "section": _section_id(section),
                "height": int(fig.layout.height or 450),
                "rev": _rev(to_json_plotly([d["data"], d["layout"]])),
                "data": d["data"],
                "layout": d["layout"],
            }
        )
    tasks = sorted({s for s, _, _ in figs} - {"profiles", "trials", "trend"})
    sections: list[tuple[str, str]] = []
    warn = merge_warnings(a, metas)
    if warn:
        sections.append(("warnings", _section("warnings", warn)))
    if a.leaderboard.empty:
        sections.append(("empty", _section("empty")))
    else:
        sections.append(("claims", _section("claims", verdicts_html(a))))
        sections.append(("leaderboard", _section("leaderboard", a.settings, leaderboard_html(a))))
        for t in tasks:
            sections.append((_section_id(t), _section("task", t)))
        if has_ladder(a.trend_sizes):
            sections.append(("trend", _section("trend", a.settings, EXTRAPOLATION, trend_html(a))))
        sections.append(("profiles", _section("profiles", a.leaderboard["task"].nunique(), MIN_PROFILE_TASKS)))
        sections.append(("trials", _section("trials", trials_html(a))))
    sections.append(("notes", notes_html(a)))
    rounds = rounds_html(metas)  # an adaptive run's rounds (dashboards/rounds.py)
    if rounds:
        sections.append(("rounds", _section("rounds", rounds)))
    sections.append(("meta", meta_html(metas, a, png_note)))
    nav = _section("nav", _nav_items(sections, tasks))
    return {
        "title": f"optbasin report: {', '.join(sweeps)}",
        "status": status_html(a, prog, live),
        "running": prog["running"],
        "progress": prog,
        "nav": nav,
        "nav_rev": _rev(nav),
        "sections": [{"id": sid, "html": h, "rev": _rev(h)} for sid, h in sections],
        "figs": fig_list,
        "template": template if template is not None else go.Figure().to_plotly_json()["layout"].get("template", {}),
    }


def _section_id(section: str) -> str:
    return section if section in ("profiles", "trials", "trend") else f"task-{_slug(section)}"


def _nav_items(sections: list[tuple[str, str]], tasks: list[str]) -> list[tuple[str, str]]:
    names = {
        "warnings": "warnings",
        "claims": "claims",
        "leaderboard": "leaderboard",
        "trend": "trend with size",
        "profiles": "profiles",
        "trials": "trials",
        "notes": "notes",
        "meta": "runs",
    }
    names.update({_section_id(t): t for t in tasks})
    return [(sid, names[sid]) for sid, _ in sections if sid in names]


def render_page(page: dict[str, Any], *, live: bool = False, data_file: str = "report.data.js") -> str:
    """The HTML file (templates/page.html.j2): content first (so it paints at once), then plotly.js
    and the script that draws the figures (static/report.js), every part inlined."""
    state = {"on": live, "running": page["running"], "file": data_file, "every": REFRESH_S}
    data = {k: v for k, v in page.items() if k != "template"}
    data["sections"] = [{"id": s["id"], "rev": s["rev"]} for s in page["sections"]]  # their html is in the page
    return TEMPLATES.get_template("page.html.j2").render(
        page=page,
        css=static_text("report.css"),
        js=static_text("report.js"),
        plotly_js=get_plotlyjs(),
        live_json=json.dumps(state),
        template_json=_script_json(to_json_plotly(page["template"])),
        page_json=_script_json(to_json_plotly(data)),
    )


def render_html(
    a: Analysis,
    figs: list[tuple[str, str, go.Figure]],
    metas: list[tuple[Path, dict]],
    *,
    live: bool = False,
    png_note: str = "",
) -> str:
    """The report page of an analysis (what build_report writes, without the live data file)."""
    return render_page(page_content(a, figs, metas, png_note=png_note, live=live), live=live)
