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
import hashlib
import html
import json
import os
import re
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

from optbasin.analysis import Analysis, analyze, load_claims, read_meta
from optbasin.analysis.analyze import claims_from_runs
from optbasin.analysis.loss_table import hp_columns
from optbasin.analysis.specs import MetricSpec
from optbasin.dashboards import figures as F
from optbasin.dashboards.figures import plural
from optbasin.dashboards.rounds import rounds_html
from optbasin.dashboards.verdicts import num, verdicts_section
from optbasin.sweeps.run_status import session_started_at

REFRESH_S = 10
MIN_PROFILE_TASKS = 3  # a profile over one or two tasks is a step function of one comparison


class ReportWarning(UserWarning):
    """Something in the report was skipped (e.g. PNG export without kaleido)."""


def write_report(run_dirs: Sequence[str | Path], out: str | Path, *, claims: Any = None, live: bool = False,
                 png_dir: str | Path | None = None, settings: Any = None) -> Path:
    """Analyze run directories and write one self-contained HTML report to ``out``.

    claims: a claims YAML path or a list of claims; default the sweep file's claims (meta.json).
    live: also write ``<out stem>.data.js``, which an open page reloads every 10 s while the
    sweep runs (rebuild the report meanwhile: the page updates in place).
    png_dir: also export every figure as PNG there (kaleido, else a headless Chromium; skipped
    with a ReportWarning when neither is installed)."""
    from optbasin.sweeps.store import load_runs

    dirs = [Path(d) for d in run_dirs]
    trials, steps = load_runs(dirs)
    if claims is None:
        claims = claims_from_runs(dirs)
    elif isinstance(claims, (str, Path)):
        claims = load_claims(claims)
    analysis = analyze(trials, steps, claims=claims, settings=settings)
    metas = [(d, read_meta(d)) for d in dirs]
    return build_report(analysis, steps, metas, out, live=live, png_dir=png_dir)


def build_report(analysis: Analysis, steps: pd.DataFrame | None, metas: list[tuple[Path, dict]],
                 out: str | Path, *, live: bool = False, png_dir: str | Path | None = None) -> Path:
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
    if a.leaderboard["task"].nunique() >= MIN_PROFILE_TASKS:
        for metric in a.profiles["metric"].unique() if not a.profiles.empty else []:
            add("profiles", f"profile-{metric}", F.profile_figure(a, metric))
    return out


def export_png(figs: list[tuple[str, str, go.Figure]], png_dir: Path) -> str:
    """Write each figure as PNG (kaleido, else headless Chromium); skip with a clear message when
    neither is available or rendering fails: the HTML report never depends on it."""
    from optbasin.dashboards.png import renderer, write_png

    if renderer() is None:
        msg = ("PNG export skipped: no renderer (install plotly's 'kaleido' package, or a Chromium such "
               "as Debian's 'chromium'); the HTML report is complete without it")
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
# HTML
# ---------------------------------------------------------------------------------------------
e = html.escape


def _sortval(x: Any) -> str:
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return "" if not np.isfinite(x) else repr(float(x))
    return e(str(x))


def _table(columns: list[str], rows: list[list[tuple[Any, str]]], cls: str = "sortable", tips: dict | None = None,
           group: int | None = None, tid: str = "") -> str:
    """rows of (sort value, html) cells. group: index of a column whose rows stay together when
    sorting (e.g. the task: the leaderboard sorts within each task)."""
    tips = tips or {}
    head = "".join(f'<th title="{e(tips.get(c, "click to sort"))}">{e(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td data-v="{_sortval(v)}">{h}</td>' for v, h in r) + "</tr>" for r in rows)
    attrs = (f' data-group="{group}"' if group is not None else "") + (f' id="{e(tid)}"' if tid else "")
    return f'<table class="{cls}"{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ci_cell(r: pd.Series, col: str, fmt: str = ".4g", prefix: str = "") -> tuple[Any, str]:
    v = r.get(col, np.nan)
    lo, hi = r.get(col + "_lo", np.nan), r.get(col + "_hi", np.nan)
    return v, f'{prefix}{num(v, fmt)} <span class="ci">[{num(lo, fmt)}, {num(hi, fmt)}]</span>'


def leaderboard_html(a: Analysis) -> str:
    s = a.settings
    lb = a.leaderboard.sort_values(["task", "best_loss"])
    basins = ([MetricSpec("basin_width", eps=x).column for x in s.eps] + [MetricSpec("basin_width", eps=s.eps[0], scope="task").column]
              + [MetricSpec("basin_width", delta=d).column for d in s.delta])
    ks = [f"expected_best_k{k}" for k in s.ks]
    alpha = MetricSpec("alpha_tunability", alpha=s.alpha).column
    others = {i: F.at_text(json.loads(p), skip=("lr",)) for i, p in lb["best_point"].items()}
    shown = any(others.values())  # a column only when some optimizer swept more than lr
    cols = (["task", "optimizer", "seeds", "trials", "best loss", "best lr"] + ["best other axes"] * shown
            + [c.replace("basin_width_", "basin ") for c in basins] + ["lr sensitivity"]
            + [f"E[best | k={k}]" for k in s.ks] + ["CP early", "CP uniform", "CP late", f"alpha-tun. ({s.alpha:g})",
               "diverged (trials)", "diverged (points)", "failed", "s / step"])
    tips = {
        "best loss": "l*: lowest median-over-seeds final loss; [bootstrap interval over seeds]",
        "best lr": "lr of the best point; the warning sign marks an optimum on the grid's edge",
        "best other axes": "every other swept hyperparameter at the best grid point",
        "lr sensitivity": f"Wortsman: log-uniform (trapezoid) mean of min(l, l0) - l* over the grid points within "
                          + (f"{list(s.lr_range)}" if s.lr_range else f"{s.lr_decades:g} decades centred on the best lr"),
        "CP uniform": f"Sivaprasad tunability: weighted mean of P(k), k = 1..{s.tunability_budget}",
        **{f"E[best | k={k}]": "Dodge: expected best of k trials drawn from the N trials run (N counts trials: grid "
                               "points x seeds); undefined (-) for k > N" for k in s.ks},
        "s / step": "median wall time per step over the trials timed alone (population members record a share "
                    "of their population's time: undefined)",
        "diverged (trials)": "fraction of grid point x seed trials that diverged",
        "diverged (points)": "fraction of grid points where some seed diverged",
    }
    for c in basins:
        ref = "the task's best l* (every optimizer)" if "taskrel" in c else "this optimizer's l*"
        tips[c.replace("basin_width_", "basin ")] = (f"decades of lr within the tolerance of {ref} (linear "
                                                     "interpolation in log10 lr); >= : cut by the grid's edge, a lower bound")
    rows = []
    for i, r in lb.iterrows():
        edge = r["best_at_edge"]
        cells = [(r["task"], e(r["task"])), (r["optimizer"], f"<b>{e(r['optimizer'])}</b>"),
                 (r["seeds"], str(r["seeds"])), (r["trials"], str(r["trials"])), _ci_cell(r, "best_loss"),
                 (r["best_lr"], num(r["best_lr"], ".3g") + (f' <span class="warn" title="optimum at the grid edge: '
                                                             f'{e(edge)}">&#9888; {e(edge)}</span>' if edge else ""))]
        cells += [(others[i], e(others[i]) or "&ndash;")] * shown
        for c in basins:
            cut = r.get(c + "_cut")
            cut = cut if isinstance(cut, str) else ""
            v, h = _ci_cell(r, c, ".2f", prefix="&ge;" if cut else "")
            cells.append((v, h + (f' <span class="warn" title="basin cut by the grid edge ({e(cut)})">cut</span>' if cut else "")))
        v, h = _ci_cell(r, "lr_sensitivity", ".3g")
        cells.append((v, h + (' <span class="muted" title="the lr range reaches past the grid: the mean covers '
                              'only the grid points inside it">&dagger;</span>' if r.get("lr_sensitivity_cut") == "range" else "")))
        cells += [_ci_cell(r, k) for k in ks]
        cells += [(r[c], num(r[c])) for c in ("tunability_early", "tunability_uniform", "tunability_late")]
        cells.append(_ci_cell(r, alpha, ".2f"))
        cells.append(_ci_cell(r, "divergence_rate", ".0%"))
        cells.append(_ci_cell(r, "divergence_rate_points", ".0%"))
        cells.append((r["failed"], f'<span class="{"warn" if r["failed"] else ""}">{r["failed"]}</span>'))
        cells.append((r["time_per_step"], num(r["time_per_step"], ".3g")))
        rows.append(cells)
    primary = {"task", "optimizer", "seeds", "best loss", "best lr", "best other axes",
               basins[0].replace("basin_width_", "basin "), "diverged (trials)", "failed"}
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
        out += (f"<details><summary>{plural(len(rest), 'more column')}: {e(', '.join(cols[j] for j in rest))}"
                f"</summary>{table([0, 1, *rest], 'leaderboard-more')}</details>")
    empty = [cols[j] for j in range(len(cols)) if j not in keep]
    if empty:
        out += f'<p class="muted">Not shown, undefined for every optimizer (see the notes): {e(", ".join(empty))}.</p>'
    return out


def trials_html(a: Analysis) -> str:
    """Every trial, one row each: filter (all words must appear in the row) and sort (click a
    column heading). Hyperparameters: those that take more than one value across the trials."""
    t = a.trials
    if t.empty:
        return ""
    hps = [c for c in hp_columns(t) if t[c].nunique(dropna=False) > 1]
    cols = ["trial", "task", "optimizer", "seed", "status", *[c.removeprefix("hp.") for c in hps],
            "final loss", "initial loss l0", "final train loss", "steps", "wall time (s)", "error"]
    rows = []
    for r in t.sort_values(["task", "optimizer", "point_id", "seed"], kind="stable").to_dict("records"):
        status = r["status"]
        cells = [(r["trial_id"], f'<span class="small">{e(str(r["trial_id"]))}</span>'), (r["task"], e(r["task"])),
                 (r["optimizer"], e(r["optimizer"])), (r["seed"], str(r["seed"])),
                 (status, f'<span class="{"warn" if status != "completed" else ""}">{e(status)}</span>')]
        cells += [(r[c], e(F.value_label(r[c])) if pd.notna(r[c]) else "&ndash;") for c in hps]
        cells += [(r["final_val_loss"], num(r["final_val_loss"])), (r["l0"], num(r["l0"])),
                  (r["final_train_loss"], num(r["final_train_loss"])), (r["steps_done"], num(r["steps_done"], "g")),
                  (r["wall_time"], num(r["wall_time"], ".3g")),
                  (str(r["error"] or ""), f'<span class="small">{e(str(r["error"] or ""))[:300]}</span>')]
        rows.append(cells)
    return ('<p><input type="search" class="filter" data-table="trials-table" placeholder="filter: words that must '
            'all appear in a row, e.g. diverged muon" size="60"> <span class="muted count"></span></p>'
            f'<div class="scroll tall">{_table(cols, rows, tid="trials-table")}</div>')


def sweep_doc(meta: dict) -> dict:
    """The sweep file kept in a run's meta.json, parsed ({} when absent or unreadable)."""
    import yaml

    try:
        doc = yaml.safe_load(meta.get("sweep_yaml") or "")
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def merge_warnings(a: Analysis, metas: list[tuple[Path, dict]]) -> list[str]:
    """Runs merged into one report that differ in budget, schedule or task parameters: their
    trials are pooled as one task, so say so."""
    out = []
    t = a.trials
    for col, what in (("steps", "step budgets"), ("task_params", "task parameters")):
        if col in t.columns:
            for task, g in t.groupby("task", sort=True):
                values = sorted(g[col].dropna().astype(str).unique())
                if len(values) > 1:
                    out.append(f"task {task}: trials with different {what} ({'; '.join(values)}) are pooled as one task")
    docs = [(d, sweep_doc(m)) for d, m in metas]
    for key in ("budget", "schedule"):
        values = {json.dumps(doc.get(key), sort_keys=True, default=str) for _, doc in docs}
        if len(values) > 1:
            runs = "; ".join(f"{d}: {json.dumps(doc.get(key), sort_keys=True, default=str)}" for d, doc in docs)
            out.append(f"merged runs differ in {key} ({runs}): a task that ran under several is kept apart, "
                       "one task per setting (see the notes)")
    return out


def verdicts_html(a: Analysis) -> str:
    return verdicts_section(a)


def meta_html(metas: list[tuple[Path, dict]], a: Analysis, png_note: str) -> str:
    parts = []
    for d, m in metas:
        counts = m.get("counts") or {}
        versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items())
        machine = ", ".join(f"{k}: {v}" for k, v in (m.get("machine") or {}).items())
        elapsed = m.get("elapsed_s")
        rows = [
            ("sweep", e(str(m.get("sweep", "?")))), ("run directory", e(str(d))),
            ("command", f"<code>{e(' '.join(map(str, m.get('command') or [])))}</code>"),
            ("sweep file", e(str(m.get("sweep_file", "")))),
            ("started / finished", e(f"{m.get('started_at', '?')} / {m.get('finished_at') or 'running'}")),
            ("elapsed", e(f"{elapsed:.0f} s" if isinstance(elapsed, (int, float)) else "?")),
            ("trials by status", e(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none yet")),
            ("versions", e(versions)), ("machine", e(machine)),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        yaml_text = m.get("sweep_yaml")
        parts.append(f'<table class="meta">{table}</table>'
                     + (f"<details><summary>sweep file</summary><pre>{e(yaml_text)}</pre></details>" if yaml_text else ""))
    if not metas or not any(m for _, m in metas):
        parts.append('<p class="muted">No meta.json found.</p>')
    if png_note:
        parts.append(f'<p class="warn">{e(png_note)}</p>')
    t = a.trials
    if not t.empty:
        status = t["status"].value_counts().to_dict()
        parts.append(f'<p class="muted">Analysed: {plural(len(t), "trial")} ('
                     + e(", ".join(f"{v} {k}" for k, v in sorted(status.items()))) + ").</p>")
    return "".join(parts)


def notes_html(a: Analysis) -> str:
    out = ""
    if a.notes:
        out += "<ul>" + "".join(f"<li>{e(n)}</li>" for n in a.notes) + "</ul>"
    if not a.failed.empty:
        f = a.failed.head(100)
        rows = [[(r["trial_id"], e(r["trial_id"])), (r["task"], e(r["task"])), (r["optimizer"], e(r["optimizer"])),
                 (r["seed"], str(r["seed"])), (r.get("hp.lr", np.nan), num(r.get("hp.lr", np.nan), ".3g")),
                 (str(r["error"]), f'<span class="small">{e(str(r["error"]))[:300]}</span>')] for _, r in f.iterrows()]
        out += f"<h3>Failed trials ({len(a.failed)}{', first 100' if len(a.failed) > 100 else ''}; all in the trials table)</h3>"
        out += _table(["trial", "task", "optimizer", "seed", "lr", "error"], rows)
    return out or '<p class="muted">None.</p>'


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cfd8e3;font-size:13px}.live{background:#c0392b;color:#fff;padding:2px 8px;border-radius:3px}
nav{padding:8px 24px;background:#eef1f5;font-size:13px;position:sticky;top:0;z-index:5;height:18px;overflow:hidden}
nav a{margin-right:14px}section{padding:6px 24px 18px;scroll-margin-top:44px}section ul{font-size:13px}
h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
.fig{background:#fff;border:1px solid #e3e3e3;border-radius:4px}
table{border-collapse:collapse;font-size:12px;background:#fff}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
table.sortable th{cursor:pointer;background:#eef1f5;position:sticky;top:0}table.sortable th:hover{background:#dde3ea}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
.scroll{overflow-x:auto}.tall{max-height:600px;overflow-y:auto}.ci{color:#777;font-size:11px}
.muted{color:#777;font-size:12px}.small{font-size:11px}
.warn{color:#b35900;font-weight:600}.verdict{padding:1px 6px;border-radius:3px;color:#fff;font-weight:600}
.banner{background:#fff4e5;border:1px solid #f0c080;padding:6px 12px;font-size:13px}
.supported{background:#2e7d32}.contradicted{background:#c62828}.inconclusive{background:#757575}
table.meta th{background:#eef1f5;width:150px}pre{background:#f3f3f3;padding:8px;font-size:11px;overflow-x:auto}
"""

# Runs after plotly.js. FIGS: id -> figure; update(d) is the one way the page changes, for the
# figures inlined in the page and for each live data file alike.
JS = """
const CONFIG = {responsive: true, displaylogo: false};
const FIGS = {}, drawn = new Set(), sorts = {}, filters = {};
let queue = [], updates = 0;
function ready() { if (queue.length === 0) document.body.dataset.plotsReady = "1"; }
function keepView(el, layout) {
  // axes the reader zoomed or switched (buttons) keep their view when the data changes
  for (const ax in (el._userAxes || {})) {
    const cur = el.layout && el.layout[ax];
    if (cur && cur.range) layout[ax] = Object.assign({}, layout[ax], {range: cur.range.slice(), autorange: false, type: cur.type});
  }
}
function watch(el) {
  el._userAxes = {};
  el.on("plotly_relayout", ev => {
    for (const k in ev) {
      const m = k.match(/^([xy]axis\\d*)\\.(range|autorange|type)/);
      if (!m) continue;
      if (m[2] === "autorange" && ev[k] === true) delete el._userAxes[m[1]]; else el._userAxes[m[1]] = true;
    }
  });
}
function draw(id) {
  const f = FIGS[id], el = document.getElementById(id);
  if (!f || !el) return;
  const layout = Object.assign({}, f.layout, {template: TEMPLATE, uirevision: id});
  try {
    if (drawn.has(id)) keepView(el, layout);
    Plotly.react(el, f.data, layout, CONFIG);
    el.dataset.draws = (+el.dataset.draws || 0) + 1;
    if (!drawn.has(id)) { drawn.add(id); watch(el); }
  } catch (err) { console.error("figure " + id + ": " + err); }
}
// figures on screen first (and as they scroll into view), the others in the background
const io = "IntersectionObserver" in window ? new IntersectionObserver(entries => entries.forEach(en => {
  if (en.isIntersecting) { io.unobserve(en.target); take(en.target.id); }
}), {rootMargin: "300px"}) : null;
function take(id) { const i = queue.indexOf(id); if (i >= 0) { queue.splice(i, 1); draw(id); ready(); } }
function background() {
  const t0 = performance.now();
  while (queue.length && performance.now() - t0 < 30) draw(queue.shift());
  if (queue.length) setTimeout(background, 0); else ready();
}
function sortTable(table, col, asc) {
  const body = table.tBodies[0], group = table.dataset.group;
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  table.tHead.rows[0].cells[col].dataset.dir = asc ? "asc" : "desc";
  const cmp = (x, y) => {
    const nx = parseFloat(x), ny = parseFloat(y);
    if (x === "" && y === "") return 0; if (x === "") return 1; if (y === "") return -1;
    return (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    if (group !== undefined) {
      const g = cmp(a.cells[+group].dataset.v, b.cells[+group].dataset.v);
      if (g !== 0) return g;  // rows of one group (task) stay together
    }
    const c = cmp(a.cells[col].dataset.v, b.cells[col].dataset.v);
    return asc ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
  if (table.id) sorts[table.id] = [col, asc];
}
function filterTable(input) {
  const table = document.getElementById(input.dataset.table), words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  Array.from(table.tBodies[0].rows).forEach(r => {
    const ok = words.every(w => r.textContent.toLowerCase().includes(w));
    r.style.display = ok ? "" : "none"; shown += ok;
  });
  filters[input.dataset.table] = input.value;
  const count = input.parentNode.querySelector(".count");
  if (count) count.textContent = shown + " of " + table.tBodies[0].rows.length + " shown";
}
function bind(root) {
  root.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
    sortTable(th.closest("table"), th.cellIndex, th.dataset.dir !== "asc");
  }));
  root.querySelectorAll("table.sortable[id]").forEach(t => { if (sorts[t.id]) sortTable(t, ...sorts[t.id]); });
  root.querySelectorAll("input.filter").forEach(inp => {
    if (filters[inp.dataset.table]) inp.value = filters[inp.dataset.table];
    inp.addEventListener("input", () => filterTable(inp));
    filterTable(inp);
  });
}
function place(parent, el, after) {
  const want = after ? after.nextSibling : parent.firstChild;
  if (want !== el) parent.insertBefore(el, want);
}
function update(d) {
  document.getElementById("status").innerHTML = d.status;
  const nav = document.getElementById("nav");
  if (nav.dataset.rev !== d.nav_rev) { nav.innerHTML = d.nav; nav.dataset.rev = d.nav_rev; }
  const main = document.getElementById("main"), keep = new Set(d.sections.map(s => s.id));
  let prev = null;
  d.sections.forEach(s => {
    let el = document.getElementById(s.id);
    if (!el) {
      el = document.createElement("section"); el.id = s.id;
      el.innerHTML = '<div class="body"></div><div class="grid"></div>';
    }
    place(main, el, prev); prev = el;
    if (el.dataset.rev !== s.rev) { el.querySelector(".body").innerHTML = s.html; el.dataset.rev = s.rev; bind(el); }
  });
  Array.from(main.children).forEach(el => { if (!keep.has(el.id)) el.remove(); });
  const ids = new Set(d.figs.map(f => f.id)), last = {};
  document.querySelectorAll("div.fig").forEach(el => {
    if (!ids.has(el.id)) { if (drawn.has(el.id)) Plotly.purge(el); drawn.delete(el.id); el.remove(); }
  });
  d.figs.forEach(f => {
    const grid = document.querySelector("#" + CSS.escape(f.section) + " .grid");
    let el = document.getElementById(f.id);
    if (!el) { el = document.createElement("div"); el.className = "fig"; el.id = f.id; }
    el.style.height = f.height + "px";
    place(grid, el, last[f.section]); last[f.section] = el;
    const changed = !FIGS[f.id] || FIGS[f.id].rev !== f.rev;
    FIGS[f.id] = f;
    if (drawn.has(f.id)) { if (changed) draw(f.id); }
    else if (!queue.includes(f.id)) { queue.push(f.id); if (io) io.observe(el); }
  });
  LIVE.running = d.running;
  document.body.dataset.updates = ++updates;
  setTimeout(background, 50);
}
window.optbasinUpdate = update;
update(PAGE);
bind(document);
function poll() {
  const s = document.createElement("script");
  s.src = LIVE.file + "?t=" + Date.now();
  s.onload = s.onerror = () => s.remove();
  document.body.appendChild(s);
}
window.optbasinPoll = poll;
if (LIVE.on) setInterval(() => { if (LIVE.running) poll(); }, LIVE.every * 1000);
"""


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
    text = f"generated {e(now)} &middot; {plural(len(a.trials), 'trial')}"
    if prog["running"]:
        n, total = prog["done"], prog["planned"]
        done = f"{n} of {plural(total, 'trial')} done" if total else f"{plural(n, 'trial')} done"
        eta = f", ETA {_clock(prog['eta_s'])}" if prog["eta_s"] is not None else ", ETA --"
        text += f' &middot; <span class="live">sweep running: {done}{eta}' + (
            f"; this page updates every {REFRESH_S} s" if live else "; rebuild the report to update") + "</span>"
    return text


def page_content(a: Analysis, figs: list[tuple[str, str, go.Figure]], metas: list[tuple[Path, dict]],
                 *, png_note: str = "", live: bool = True) -> dict[str, Any]:
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
        fig_list.append({"id": f"fig-{key}", "section": _section_id(section), "height": int(fig.layout.height or 450),
                         "rev": _rev(to_json_plotly([d["data"], d["layout"]])), "data": d["data"], "layout": d["layout"]})
    tasks = sorted({s for s, _, _ in figs} - {"profiles", "trials"})
    sections: list[tuple[str, str]] = []
    warn = merge_warnings(a, metas)
    if warn:
        sections.append(("warnings", '<div class="banner"><b>&#9888; Merged runs differ:</b><ul>'
                         + "".join(f"<li>{e(w)}</li>" for w in warn) + "</ul></div>"))
    if a.leaderboard.empty:
        sections.append(("empty", '<h2>No trials recorded yet</h2><p class="muted">The report fills in as trials '
                                  "finish.</p>"))
    else:
        s = a.settings
        sections.append(("claims", f'<h2>Claim verdicts</h2><div class="scroll">{verdicts_html(a)}</div>'))
        sections.append(("leaderboard",
                         "<h2>Robustness leaderboard</h2><p class=\"muted\">One row per task and optimizer. "
                         "Loss: final validation loss (train loss where there is none), median over seeds; diverged and "
                         f"failed trials count as their initial loss. [brackets]: {round(100 * s.confidence)}% bootstrap "
                         f"interval over seeds ({s.resamples} resamples). Basin widths in decades of lr (relative "
                         f"tolerances {', '.join(f'{x:g}' for x in s.eps)}; absolute "
                         f"{', '.join(f'{x:g}' for x in s.delta) or 'none'}). Click a column to sort (within each "
                         f'task).</p><div class="scroll">{leaderboard_html(a)}</div>'))
        for t in tasks:
            sections.append((_section_id(t), f"<h2>Task: {e(t)}</h2>"))
        n_tasks = a.leaderboard["task"].nunique()
        sections.append(("profiles", "<h2>Performance profiles across tasks</h2>" + (
            '<p class="muted">Fraction of tasks on which each optimizer is within a factor tau of the best one '
            "(for basin width: the best width over this one's).</p>" if n_tasks >= MIN_PROFILE_TASKS else
            f'<p class="muted">Not drawn: a profile needs at least {MIN_PROFILE_TASKS} tasks and this report has '
            f"{n_tasks} (over one or two tasks it only restates one comparison).</p>")))
        sections.append(("trials", "<h2>All trials</h2><p class=\"muted\">Parallel coordinates of every trial (one "
                                   "figure per task, below) and the table of every trial.</p>" + trials_html(a)))
    sections.append(("notes", f"<h2>Notes and failed trials</h2>{notes_html(a)}"))
    rounds = rounds_html(metas)  # an adaptive run's rounds (dashboards/rounds.py)
    if rounds:
        sections.append(("rounds", f"<h2>Adaptive rounds</h2>{rounds}"))
    sections.append(("meta", f"<h2>Runs</h2>{meta_html(metas, a, png_note)}"))
    nav = "".join(f'<a href="#{sid}">{e(label)}</a>' for sid, label in _nav_items(sections, tasks))
    return {
        "title": f"optbasin report: {', '.join(sweeps)}", "status": status_html(a, prog, live),
        "running": prog["running"], "progress": prog, "nav": nav, "nav_rev": _rev(nav),
        "sections": [{"id": sid, "html": h, "rev": _rev(h)} for sid, h in sections], "figs": fig_list,
        "template": template if template is not None else go.Figure().to_plotly_json()["layout"].get("template", {}),
    }


def _section_id(section: str) -> str:
    return section if section in ("profiles", "trials") else f"task-{_slug(section)}"


def _nav_items(sections: list[tuple[str, str]], tasks: list[str]) -> list[tuple[str, str]]:
    names = {"warnings": "warnings", "claims": "claims", "leaderboard": "leaderboard", "profiles": "profiles",
             "trials": "trials", "notes": "notes", "meta": "runs"}
    names.update({_section_id(t): t for t in tasks})
    return [(sid, names[sid]) for sid, _ in sections if sid in names]


def render_page(page: dict[str, Any], *, live: bool = False, data_file: str = "report.data.js") -> str:
    """The HTML file: content first (so it paints at once), then plotly.js and the script that
    draws the figures."""
    sections = []
    for s in page["sections"]:
        figs = "".join(f'<div class="fig" id="{e(f["id"])}" style="height:{f["height"]}px"></div>'
                       for f in page["figs"] if f["section"] == s["id"])
        sections.append(f'<section id="{e(s["id"])}" data-rev="{s["rev"]}"><div class="body">{s["html"]}</div>'
                        f'<div class="grid">{figs}</div></section>')
    state = {"on": live, "running": page["running"], "file": data_file, "every": REFRESH_S}
    data = {k: v for k, v in page.items() if k != "template"}
    data["sections"] = [{"id": s["id"], "rev": s["rev"]} for s in page["sections"]]  # their html is above
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{e(page['title'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{e(page['title'])}</h1><p id=\"status\">{page['status']}</p></header>"
        f"<nav id=\"nav\" data-rev=\"{page['nav_rev']}\">{page['nav']}</nav><main id=\"main\">{''.join(sections)}</main>"
        f"<script>{get_plotlyjs()}</script>"
        f"<script>const LIVE = {json.dumps(state)};\nconst TEMPLATE = {_script_json(to_json_plotly(page['template']))};\n"
        f"const PAGE = {_script_json(to_json_plotly(data))};\n{JS}</script></body></html>"
    )


def render_html(a: Analysis, figs: list[tuple[str, str, go.Figure]], metas: list[tuple[Path, dict]],
                *, live: bool = False, png_note: str = "") -> str:
    """The report page of an analysis (what build_report writes, without the live data file)."""
    return render_page(page_content(a, figs, metas, png_note=png_note, live=live), live=live)
