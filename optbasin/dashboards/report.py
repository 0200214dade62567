"""The self-contained HTML report: plotly.js inlined once, every figure as JSON drawn by one
script (progressively, so the page shows at once), a sortable leaderboard, claim verdicts, the
runs' metadata. Works offline; ``live=True`` makes the page reload itself every 10 s.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
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
from optbasin.analysis.specs import MetricSpec
from optbasin.dashboards import figures as F
from optbasin.dashboards.verdicts import verdicts_section

REFRESH_S = 10


class ReportWarning(UserWarning):
    """Something in the report was skipped (e.g. PNG export without kaleido)."""


def write_report(run_dirs: Sequence[str | Path], out: str | Path, *, claims: Any = None, live: bool = False,
                 png_dir: str | Path | None = None, settings: Any = None) -> Path:
    """Analyze run directories and write one self-contained HTML report to ``out``.

    claims: a claims YAML path or a list of claims; default the sweep file's claims (meta.json).
    live: add a reload every 10 s (for watching a running sweep; rewrite the file meanwhile).
    png_dir: also export every figure as PNG there (needs kaleido; skipped with a ReportWarning
    when it is not installed)."""
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
    """Render an Analysis (plus the step table for training curves) to ``out``, atomically."""
    out = Path(out)
    figs = collect_figures(analysis, steps)
    png_note = ""
    if png_dir is not None:
        png_note = export_png(figs, Path(png_dir))
    text = render_html(analysis, figs, metas, live=live, png_note=png_note)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)  # a reloading browser never sees a half-written file
    return out


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


def _fmt(x: Any, fmt: str = ".4g") -> str:
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return "&ndash;"
    return format(x, fmt)


def _sortval(x: Any) -> str:
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return "" if not np.isfinite(x) else repr(float(x))
    return e(str(x))


def _table(columns: list[str], rows: list[list[tuple[Any, str]]], cls: str = "sortable", tips: dict | None = None) -> str:
    """rows of (sort value, html) cells."""
    tips = tips or {}
    head = "".join(f'<th title="{e(tips.get(c, "click to sort"))}">{e(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td data-v="{_sortval(v)}">{h}</td>' for v, h in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ci_cell(r: pd.Series, col: str, fmt: str = ".4g", prefix: str = "") -> tuple[Any, str]:
    v = r.get(col, np.nan)
    lo, hi = r.get(col + "_lo", np.nan), r.get(col + "_hi", np.nan)
    return v, f'{prefix}{_fmt(v, fmt)} <span class="ci">[{_fmt(lo, fmt)}, {_fmt(hi, fmt)}]</span>'


def leaderboard_html(a: Analysis) -> str:
    s = a.settings
    lb = a.leaderboard.sort_values(["task", "best_loss"])
    basins = ([MetricSpec("basin_width", eps=x).column for x in s.eps] + [MetricSpec("basin_width", eps=s.eps[0], scope="task").column]
              + [MetricSpec("basin_width", delta=d).column for d in s.delta])
    ks = [f"expected_best_k{k}" for k in s.ks]
    alpha = MetricSpec("alpha_tunability", alpha=s.alpha).column
    cols = (["task", "optimizer", "seeds", "trials", "best loss", "best lr"]
            + [c.replace("basin_width_", "basin ") for c in basins] + ["lr sensitivity"]
            + [f"E[best | k={k}]" for k in s.ks] + ["CP early", "CP uniform", "CP late", f"alpha-tun. ({s.alpha:g})",
               "diverged (trials)", "diverged (points)", "failed", "s / step"])
    tips = {
        "best loss": "l*: lowest median-over-seeds final loss; [bootstrap interval over seeds]",
        "best lr": "lr of the best point; the warning sign marks an optimum on the grid's edge",
        "lr sensitivity": f"Wortsman: log-uniform (trapezoid) mean of min(l, l0) - l* over the grid points within "
                          + (f"{list(s.lr_range)}" if s.lr_range else f"{s.lr_decades:g} decades centred on the best lr"),
        "CP uniform": f"Sivaprasad tunability: weighted mean of P(k), k = 1..{s.tunability_budget}",
        **{f"E[best | k={k}]": "Dodge: expected best of k trials drawn from the N trials run (N counts trials: grid "
                               "points x seeds); undefined (-) for k > N" for k in s.ks},
        "diverged (trials)": "fraction of grid point x seed trials that diverged",
        "diverged (points)": "fraction of grid points where some seed diverged",
    }
    for c in basins:
        tips[c.replace("basin_width_", "basin ")] = ("decades of lr within the tolerance of l* (linear interpolation "
                                                     "in log10 lr); >= : cut by the grid's edge, a lower bound")
    rows = []
    for _, r in lb.iterrows():
        edge = r["best_at_edge"]
        cells = [(r["task"], e(r["task"])), (r["optimizer"], f"<b>{e(r['optimizer'])}</b>"),
                 (r["seeds"], str(r["seeds"])), (r["trials"], str(r["trials"])), _ci_cell(r, "best_loss"),
                 (r["best_lr"], _fmt(r["best_lr"], ".3g") + (f' <span class="warn" title="optimum at the grid edge: '
                                                             f'{e(edge)}">&#9888; {e(edge)}</span>' if edge else ""))]
        for c in basins:
            cut = r.get(c + "_cut")
            cut = cut if isinstance(cut, str) else ""
            v, h = _ci_cell(r, c, ".2f", prefix="&ge;" if cut else "")
            cells.append((v, h + (f' <span class="warn" title="basin cut by the grid edge ({e(cut)})">cut</span>' if cut else "")))
        v, h = _ci_cell(r, "lr_sensitivity", ".3g")
        cells.append((v, h + (' <span class="muted" title="the lr range reaches past the grid: the mean covers '
                              'only the grid points inside it">&dagger;</span>' if r.get("lr_sensitivity_cut") == "range" else "")))
        cells += [_ci_cell(r, k) for k in ks]
        cells += [(r[c], _fmt(r[c])) for c in ("tunability_early", "tunability_uniform", "tunability_late")]
        cells.append(_ci_cell(r, alpha, ".2f"))
        cells.append(_ci_cell(r, "divergence_rate", ".0%"))
        cells.append(_ci_cell(r, "divergence_rate_points", ".0%"))
        cells.append((r["failed"], f'<span class="{"warn" if r["failed"] else ""}">{r["failed"]}</span>'))
        cells.append((r["time_per_step"], _fmt(r["time_per_step"], ".3g")))
        rows.append(cells)
    return _table(cols, rows, tips=tips)


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
        parts.append(f'<p class="muted">Analysed: {len(t)} trials ('
                     + e(", ".join(f"{v} {k}" for k, v in sorted(status.items()))) + ").</p>")
    return "".join(parts)


def notes_html(a: Analysis) -> str:
    out = ""
    if a.notes:
        out += "<ul>" + "".join(f"<li>{e(n)}</li>" for n in a.notes) + "</ul>"
    if not a.failed.empty:
        f = a.failed.head(100)
        rows = [[(r["trial_id"], e(r["trial_id"])), (r["task"], e(r["task"])), (r["optimizer"], e(r["optimizer"])),
                 (r["seed"], str(r["seed"])), (r.get("hp.lr", np.nan), _fmt(r.get("hp.lr", np.nan), ".3g")),
                 (str(r["error"]), f'<span class="small">{e(str(r["error"]))[:300]}</span>')] for _, r in f.iterrows()]
        out += f"<h3>Failed trials ({len(a.failed)}{', first 100' if len(a.failed) > 100 else ''})</h3>"
        out += _table(["trial", "task", "optimizer", "seed", "lr", "error"], rows)
    return out or '<p class="muted">None.</p>'


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cfd8e3;font-size:13px}.live{background:#c0392b;color:#fff;padding:2px 8px;border-radius:3px}
nav{padding:8px 24px;background:#eef1f5;font-size:13px;position:sticky;top:0;z-index:5}nav a{margin-right:14px}
section{padding:6px 24px 18px}section ul{font-size:13px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
.fig{background:#fff;border:1px solid #e3e3e3;border-radius:4px}
table{border-collapse:collapse;font-size:12px;background:#fff}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
table.sortable th{cursor:pointer;background:#eef1f5}table.sortable th:hover{background:#dde3ea}
.scroll{overflow-x:auto}.ci{color:#777;font-size:11px}.muted{color:#777;font-size:12px}.small{font-size:11px}
.warn{color:#b35900;font-weight:600}.verdict{padding:1px 6px;border-radius:3px;color:#fff;font-weight:600}
.supported{background:#2e7d32}.contradicted{background:#c62828}.inconclusive{background:#757575}
table.meta th{background:#eef1f5;width:150px}pre{background:#f3f3f3;padding:8px;font-size:11px;overflow-x:auto}
"""

JS = """
const CONFIG = {responsive: true, displaylogo: false};
const drawn = new Array(FIGS.length).fill(false);
let left = FIGS.length;
function ready() { document.body.dataset.plotsReady = "1"; }
function draw(i) {
  if (drawn[i]) return;
  drawn[i] = true;
  const f = FIGS[i], el = document.getElementById(f.id);
  if (el) {
    f.layout.template = TEMPLATE;
    try { Plotly.newPlot(el, f.data, f.layout, CONFIG); }
    catch (err) { console.error("figure " + f.id + ": " + err); }
  }
  if (--left === 0) ready();
}
// figures on screen first (and as they scroll into view), the others in the background
const io = "IntersectionObserver" in window ? new IntersectionObserver(entries => entries.forEach(en => {
  if (en.isIntersecting) { io.unobserve(en.target); draw(+en.target.dataset.i); }
}), {rootMargin: "300px"}) : null;
FIGS.forEach((f, i) => {
  const el = document.getElementById(f.id);
  if (el) { el.dataset.i = i; if (io) io.observe(el); }
});
let next = 0;
function background() {
  const t0 = performance.now();
  while (next < FIGS.length && performance.now() - t0 < 30) draw(next++);
  if (next < FIGS.length) setTimeout(background, 0);
}
setTimeout(background, 50);
if (FIGS.length === 0) ready();
function sortTable(th) {
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const asc = th.dataset.dir !== "asc";
  table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = asc ? "asc" : "desc";
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
    const nx = parseFloat(x), ny = parseFloat(y);
    let c;
    if (x === "" && y === "") c = 0; else if (x === "") c = 1; else if (y === "") c = -1;
    else if (!isNaN(nx) && !isNaN(ny)) c = nx - ny; else c = x.localeCompare(y);
    return asc ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => sortTable(th)));
if (LIVE) {
  const y = sessionStorage.getItem("optbasin-scroll");
  if (y) window.scrollTo(0, parseFloat(y));
  window.addEventListener("beforeunload", () => sessionStorage.setItem("optbasin-scroll", window.scrollY));
}
"""


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    return obj.replace("</", "<\\/") if isinstance(obj, str) else _script_json(json.dumps(obj))


def render_html(a: Analysis, figs: list[tuple[str, str, go.Figure]], metas: list[tuple[Path, dict]],
                *, live: bool = False, png_note: str = "") -> str:
    sweeps = sorted({str(m.get("sweep")) for _, m in metas if m.get("sweep")}) or ["(unnamed)"]
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    running = any(m and not m.get("finished_at") for _, m in metas)
    title = f"optbasin report: {', '.join(sweeps)}"

    payload, template = [], None
    sections: dict[str, list[str]] = {}
    for i, (section, key, fig) in enumerate(figs):
        d = fig.to_plotly_json()
        template = d["layout"].pop("template", template)
        fid = f"fig-{i}-{key}"
        payload.append({"id": fid, "data": d["data"], "layout": d["layout"]})
        height = int(fig.layout.height or 450)
        sections.setdefault(section, []).append(f'<div class="fig" id="{e(fid)}" style="height:{height}px"></div>')
    if template is None:
        template = go.Figure().to_plotly_json()["layout"].get("template", {})

    tasks = [s for s in sections if s != "profiles"]
    nav = ['<a href="#claims">claims</a>', '<a href="#leaderboard">leaderboard</a>']
    nav += [f'<a href="#task-{_slug(t)}">{e(t)}</a>' for t in tasks]
    nav += ['<a href="#profiles">profiles</a>', '<a href="#notes">notes</a>', '<a href="#meta">runs</a>']
    body = [f'<header><h1>{e(title)}</h1><p>generated {e(now)} &middot; {len(a.trials)} trials'
            + (f' &middot; <span class="live">live: reloads every {REFRESH_S} s'
               + (" (sweep running)" if running else "") + "</span>" if live else "")
            + "</p></header>", f"<nav>{''.join(nav)}</nav>"]
    if a.leaderboard.empty:
        body.append('<section><h2>No trials recorded yet</h2><p class="muted">The report fills in as trials finish.</p></section>')
    else:
        s = a.settings
        body.append(f'<section id="claims"><h2>Claim verdicts</h2><div class="scroll">{verdicts_html(a)}</div></section>')
        body.append(
            '<section id="leaderboard"><h2>Robustness leaderboard</h2><p class="muted">One row per task and optimizer. '
            "Loss: final validation loss (train loss where there is none), median over seeds; diverged and failed "
            f"trials count as their initial loss. [brackets]: {round(100 * s.confidence)}% bootstrap interval over "
            f"seeds ({s.resamples} resamples). Basin widths in decades of lr (relative tolerances "
            f"{', '.join(f'{x:g}' for x in s.eps)}; absolute {', '.join(f'{x:g}' for x in s.delta) or 'none'}). "
            "Click a column to sort.</p>"
            f'<div class="scroll">{leaderboard_html(a)}</div></section>')
        for t in tasks:
            body.append(f'<section id="task-{_slug(t)}"><h2>Task: {e(t)}</h2><div class="grid">{"".join(sections[t])}</div></section>')
        body.append('<section id="profiles"><h2>Performance profiles across tasks</h2>'
                    '<p class="muted">Fraction of tasks on which each optimizer is within a factor tau of the best one '
                    "(for basin width: the best width over this one's).</p>"
                    f'<div class="grid">{"".join(sections.get("profiles", []))}</div></section>')
    body.append(f'<section id="notes"><h2>Notes and failed trials</h2>{notes_html(a)}</section>')
    body.append(f'<section id="meta"><h2>Runs</h2>{meta_html(metas, a, png_note)}</section>')

    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if live else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}"
        f"<title>{e(title)}</title><style>{CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}"
        f"<script>const LIVE = {'true' if live else 'false'};\nconst TEMPLATE = {_script_json(to_json_plotly(template))};\n"
        f"const FIGS = {_script_json(to_json_plotly(payload))};\n{JS}</script></body></html>"
    )
