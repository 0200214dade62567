"""Unit tests of the report's figures and HTML: the right points with the right marks.

Expected values are worked by hand from the small tables below (the same ones as the analysis
tests): e.g. the basin of A at eps 0.1 spans log10 lr from -3 - 0.21/1.1 to -3 + 0.21/0.4.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.dashboards import ReportWarning, build_report
from optbasin.dashboards import figures as F
from optbasin.dashboards.report import collect_figures, data_path, leaderboard_html, render_html, verdicts_html
from tests.conftest import result_row as trial


def rows():
    """A: medians 3.2 (seed 2 missing), 2.1, 2.5 (one diverged seed), 5.0 (all diverged) on
    lr 1e-4..1e-1.  B: best at the grid's last lr (basin cut high).  N: NAMO-D lr x clamp_c grid
    with one cell where every seed diverged (lr 1e-1, c 0.4)."""
    out = [
        trial("A", 0, 1e-4, 3.0),
        trial("A", 1, 1e-4, 3.4),
        trial("A", 0, 1e-3, 2.0),
        trial("A", 1, 1e-3, 2.2),
        trial("A", 2, 1e-3, 2.1),
        trial("A", 0, 1e-2, 2.5),
        trial("A", 1, 1e-2, math.nan, "diverged"),
        trial("A", 2, 1e-2, 2.3),
    ]
    out += [trial("A", s, 1e-1, math.nan, "diverged") for s in range(3)]
    for s in range(3):
        for lr, loss in ((1e-4, 4.0), (1e-3, 3.0), (1e-2, 2.5), (1e-1, 2.0)):
            out.append(trial("B", s, lr, loss + 0.01 * s))
    grid = {(1e-3, 0.4): 3.0, (1e-2, 0.4): 2.5, (1e-1, 0.4): None, (1e-3, 0.9): 2.8, (1e-2, 0.9): 2.2, (1e-1, 0.9): 2.6}
    for (lr, c), base in grid.items():
        for s in range(3):
            out.append(
                trial("N", s, lr, math.nan, "diverged", clamp_c=c)
                if base is None
                else trial("N", s, lr, base + 0.1 * s, clamp_c=c)
            )
    return pd.DataFrame(out)


def make_steps(trials: pd.DataFrame, n: int = 1000) -> pd.DataFrame:
    """n logged rows per trial; N logs diag.clamped_frac = c, A logs diag.truncated = 0.25."""
    parts = []
    for _, t in trials.iterrows():
        step = np.arange(1, n + 1)
        parts.append(
            pd.DataFrame(
                {
                    "trial_id": t["trial_id"],
                    "attempt": "a",
                    "step": step,
                    "train_loss": 5.0 - step / n,
                    "val_loss": np.where(step % 100 == 0, 4.9 - step / n, np.nan),
                    "lr": t["hp.lr"],
                    "diag.clamped_frac": t["hp.clamp_c"] if t["optimizer"] == "N" else np.nan,
                    "diag.truncated": 0.25 if t["optimizer"] == "A" else np.nan,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


CLAIMS = [{"name": "a-beats-b", "metric": "best_loss", "compare": ["A", "B"], "direction": "less", "task": "t"}]


@pytest.fixture(scope="module")
def data():
    trials = rows()
    steps = make_steps(trials)
    return analyze(trials, steps, claims=CLAIMS, settings={"eps": [0.1], "resamples": 100}), steps


def trace(fig, name):
    hits = [t for t in fig.data if t.name == name]
    assert len(hits) == 1, f"{name}: {[t.name for t in fig.data]}"
    return hits[0]


def test_sensitivity_curve_points_and_diverged_marks(data):
    a, _ = data
    fig = F.sensitivity_figure(a, "t")
    line = trace(fig, "A")
    assert list(line.x) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert list(line.y) == pytest.approx([3.2, 2.1, 2.5, 5.0])
    div = trace(fig, "A diverged")
    assert list(div.x) == pytest.approx([1e-2, 1e-1]) and list(div.y) == ["A", "A"]
    assert div.marker.symbol == "x"
    assert "1 of 3 seeds diverged" in div.text[0] and "3 of 3 seeds diverged" in div.text[1]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    names = {t.name for t in fig.data}
    assert "B diverged" not in names  # B never diverged


def test_basin_shading_spans_the_interpolated_interval(data):
    a, _ = data
    fig = F.sensitivity_figure(a, "t")
    low, high = 10 ** (-3 - 0.21 / 1.1), 10 ** (-3 + 0.21 / 0.4)
    rect = trace(fig, "A basin")
    assert min(rect.x) == pytest.approx(low) and max(rect.x) == pytest.approx(high)
    assert min(rect.y) == pytest.approx(2.1) and max(rect.y) == pytest.approx(2.31)  # l* to l* (1 + 0.1)
    assert rect.fill == "toself" and rect.line.dash == "solid"
    bar = trace(fig, "A basin interval")
    assert list(bar.x) == pytest.approx([low, high])


def test_basin_cut_by_grid_edge_is_marked(data):
    a, _ = data
    fig = F.sensitivity_figure(a, "t")
    bar = trace(fig, "B basin interval")
    assert max(bar.x) == pytest.approx(1e-1)  # stops at the grid's last point
    assert list(bar.marker.symbol) == ["line-ns-open", "triangle-right"]
    assert trace(fig, "B basin").line.dash == "dash"
    assert "lower bound" in trace(fig, "B basin").text[0]


def test_failed_seed_is_marked_apart_from_divergence():
    trials = rows()
    hit = (
        (trials["optimizer"] == "N") & (trials["hp.lr"] == 1e-3) & (trials["hp.clamp_c"] == 0.9) & (trials["seed"] == 1)
    )
    trials.loc[hit, ["status", "final_val_loss"]] = ["failed", math.nan]
    a = analyze(trials, settings={"resamples": 20})
    heat = F.surface_figure(a, "t", "N", "clamp_c")
    failed = trace(heat, "failed (some seeds)")
    assert list(failed.x) == ["0.001"] and list(failed.y) == ["0.9"]
    assert "1 of 3 seeds failed" in failed.text[0]
    strip = trace(F.sensitivity_figure(a, "t"), "N failed")
    assert list(strip.x) == pytest.approx([1e-3]) and list(strip.y) == ["N"]


def test_heatmap_marks_diverged_cell_and_best(data):
    a, _ = data
    fig = F.surface_figure(a, "t", "N", "clamp_c")
    heat = fig.data[0]
    assert list(heat.x) == ["0.001", "0.01", "0.1"] and list(heat.y) == ["0.4", "0.9"]
    z = np.array(heat.z, dtype=float)
    assert np.isnan(z[0, 2])  # c 0.4, lr 0.1: every seed diverged
    assert z[1, 1] == pytest.approx(2.3) and z[0, 0] == pytest.approx(3.1)
    div = trace(fig, "diverged (all seeds)")
    assert list(div.x) == ["0.1"] and list(div.y) == ["0.4"] and div.marker.symbol == "x"
    best = trace(fig, "best")
    assert list(best.x) == ["0.01"] and list(best.y) == ["0.9"]
    assert fig.layout.xaxis.type == "category"


def test_best_along_c(data):
    a, _ = data
    fig = F.best_along_figure(a, "t", "clamp_c")
    n = trace(fig, "N")
    assert list(n.x) == pytest.approx([0.4, 0.9]) and list(n.y) == pytest.approx([2.6, 2.3])


def test_training_curves_best_trial_downsampled(data):
    a, steps = data
    ids = F.best_trials(a, "t")
    t = a.trials.set_index("trial_id")
    assert t.loc[ids["A"], "hp.lr"] == pytest.approx(1e-3) and t.loc[ids["A"], "seed"] == 0  # loss 2.0
    fig = F.training_figure(a, steps, "t", ids)
    line = trace(fig, "A")
    assert len(line.x) <= F.MAX_CURVE_POINTS + 1 and line.x[-1] == 1000 and line.x[0] == 1
    assert list(trace(fig, "A val").x) == list(range(100, 1001, 100))


def test_diagnostic_views(data):
    a, steps = data
    fig = F.mechanism_figure(a, "t", "diag.clamped_frac", "clamp_c")
    lines = {t.name: t for t in fig.data}
    assert set(lines) == {"N, clamp_c=0.4", "N, clamp_c=0.9"}
    assert list(lines["N, clamp_c=0.9"].y) == pytest.approx([0.9, 0.9, 0.9])
    fig = F.mechanism_figure(a, "t", "diag.truncated", "f_star")
    assert list(trace(fig, "A").y) == pytest.approx([0.25] * 4)
    over = F.diagnostics_figure(a, steps, "t", F.best_trials(a, "t"))
    assert {t.name for t in over.data} == {"A: Momo truncation active (tau < lr)", "N: NAMO-D clamped-column fraction"}


def test_tables(data):
    a, _ = data
    lb = leaderboard_html(a)
    assert "&#9888; lr:high" in lb  # B's optimum on the grid's edge
    assert "&ge;" in lb  # B's basin is a lower bound
    v = verdicts_html(a)
    verdict = a.verdicts["verdict"].iloc[0]
    assert f'class="verdict {verdict.replace(" ", "-")}">{verdict}</span>' in v and "a-beats-b" in v


def test_html_is_self_contained_with_plotly_once(data, tmp_path):
    a, steps = data
    path = build_report(
        a,
        steps,
        [(tmp_path, {"sweep": "demo", "command": ["optbasin", "run"], "finished_at": None})],
        tmp_path / "r.html",
    )
    html = path.read_text()
    assert len(re.findall(r"plotly\.js v\d", html)) == 1
    assert "<script src" not in html and "cdn" not in html.lower().split("<script>")[0]
    figs = collect_figures(a, steps)
    assert html.count('class="fig"') == len(figs) > 5
    assert 'http-equiv="refresh"' not in html  # live mode updates in place, never reloads the page
    assert html.index("<main") < html.index("plotly.js v") < html.index("const PAGE")  # content paints first
    assert not data_path(path).exists()
    build_report(a, steps, [(tmp_path, {"sweep": "demo", "finished_at": None, "trials_planned": 60})], path, live=True)
    data = data_path(path).read_text()
    assert data.startswith("optbasinUpdate(") and 'http-equiv="refresh"' not in path.read_text()
    assert f"{len(a.trials)} of 60 trials done" in data and '"template"' not in data


def test_png_export_without_any_renderer_is_skipped_cleanly(data, tmp_path, monkeypatch):
    import optbasin.dashboards.png as png

    monkeypatch.setattr(png, "renderer", lambda: None)
    a, steps = data
    with pytest.warns(ReportWarning, match="no renderer"):
        path = build_report(a, steps, [], tmp_path / "r.html", png_dir=tmp_path / "png")
    assert path.exists() and not (tmp_path / "png").exists()
    assert "PNG export skipped" in path.read_text()


@pytest.mark.browser
def test_png_export_with_headless_chromium(data, tmp_path, monkeypatch):
    import struct

    import optbasin.dashboards.png as png

    if png.find_chromium() is None:
        pytest.skip("no Chromium on this machine (Debian package 'chromium')")
    monkeypatch.setattr(png, "renderer", lambda: "chromium")
    a, steps = data
    figs = collect_figures(a, steps)[:2]
    for _, key, fig in figs:
        png.write_png(fig, tmp_path / f"{key}.png", width=640, height=360)
        raw = (tmp_path / f"{key}.png").read_bytes()
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", raw[16:24]) == (640, 360)  # IHDR: the requested size
        assert len(raw) > 5000  # a drawn figure, not a blank page


def test_empty_results_render():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = render_html(analyze(pd.DataFrame()), [], [(Path("runs/x"), {"sweep": "x"})], live=True)
    assert "No trials recorded yet" in html and "sweep running: 0 trials done, ETA --" in html


def test_write_report_from_run_directory(tmp_path):
    """The documented store layout: trials.parquet/ and steps.parquet/ part files and meta.json;
    claims come from the sweep file kept in meta.json."""
    pytest.importorskip("optbasin.sweeps.store")
    from optbasin.dashboards import write_report

    run = tmp_path / "run"
    (run / "trials.parquet").mkdir(parents=True)
    (run / "steps.parquet").mkdir()
    trials = rows().assign(attempt="a", written_at=0.0, sweep="demo")
    trials.to_parquet(run / "trials.parquet" / "part-0.parquet")
    make_steps(trials, n=20).to_parquet(run / "steps.parquet" / "part-0.parquet")
    sweep_yaml = "name: demo\nclaims:\n  - {name: a-beats-b, metric: best_loss, compare: [A, B], direction: less}\n"
    (run / "meta.json").write_text(
        json.dumps(
            {
                "sweep": "demo",
                "command": ["optbasin", "run", "demo.yaml"],
                "sweep_file": "demo.yaml",
                "sweep_yaml": sweep_yaml,
                "counts": {"completed": 40},
                "finished_at": "2026-01-01",
            }
        )
    )
    out = write_report([run], tmp_path / "report.html")
    html = out.read_text()
    assert "optbasin report: demo" in html and "a-beats-b" in html and "optbasin run demo.yaml" in html

    # `optbasin report --claims FILE` judges the file's claims instead of the ones kept in meta.json
    from optbasin.cli import main

    (tmp_path / "claims.yaml").write_text(
        "claims:\n  - {name: b-beats-a, metric: best_loss, compare: [B, A], direction: less}\n"
    )
    assert main(["report", str(run), "-o", str(tmp_path / "r2.html"), "--claims", str(tmp_path / "claims.yaml")]) == 0
    html = (tmp_path / "r2.html").read_text()
    assert "b-beats-a" in html  # (a-beats-b still shows in the sweep file the Runs section quotes)


# --- issue 14: marks that cannot lie, every swept axis, the views every sweep tool has -------------


def all_traces(a, steps):
    return [(key, t) for _, key, fig in collect_figures(a, steps) for t in fig.data]


def test_no_filled_trace_draws_markers_or_takes_hover(data):
    """Seed bands and basins: lines only (plotly draws markers on a short trace whose mode is
    unset: the phantom dots) and never the hover, which must name the optimizer under the cursor."""
    a, steps = data
    filled = [(key, t) for key, t in all_traces(a, steps) if getattr(t, "fill", None) not in (None, "none")]
    assert len(filled) > 5
    for key, t in filled:
        assert t.mode == "lines", (key, t.name, t.mode)
        assert t.hoverinfo == "skip", (key, t.name)
    sens = F.sensitivity_figure(a, "t")
    assert sens.layout.hovermode == "x unified"
    hovering = [t for t in sens.data if t.hoverinfo != "skip" and t.yaxis in (None, "y")]
    assert {t.name for t in hovering} == {"A", "B", "N"}  # the median lines, named by optimizer


def test_line_figures_keep_a_legend_with_one_line(data):
    a, steps = data
    ids = F.best_trials(a, "t")
    fig = F.training_figure(a, steps, "t", {"A": ids["A"]})
    assert len([t for t in fig.data if t.showlegend is not False]) == 1 and fig.layout.showlegend is True


def two_axis_rows():
    """namo_d over lr x clamp_c: the best point is (1e-2, 0.9) (median 2.3), but the single lowest
    trial at lr 1e-2 is seed 0 at c 0.4 (2.0, median of its point 3.0)."""
    out = []
    for (lr, c), losses in {
        (1e-3, 0.4): (3.1, 3.2, 3.3),
        (1e-2, 0.4): (2.0, 3.0, 3.1),
        (1e-3, 0.9): (2.9, 3.0, 3.1),
        (1e-2, 0.9): (2.2, 2.3, 2.4),
    }.items():
        out += [trial("namo_d", s, lr, loss, clamp_c=c) for s, loss in enumerate(losses)]
    out += [trial("namo", s, lr, 2.6 + s * 0.1 + lr) for s in range(3) for lr in (1e-3, 1e-2)]
    return pd.DataFrame(out)


def test_best_trial_is_the_best_full_grid_point():
    trials = two_axis_rows()
    steps = make_steps(trials, n=50)
    steps["diag.clamped_frac"] = steps["trial_id"].map(trials.set_index("trial_id")["hp.clamp_c"])  # = c
    a = analyze(trials, steps, settings={"resamples": 20})
    ids = F.best_trials(a, "t")
    best = a.trials.set_index("trial_id").loc[ids["namo_d"]]
    assert best["hp.lr"] == pytest.approx(1e-2) and best["hp.clamp_c"] == pytest.approx(0.9) and best["seed"] == 0
    fig = F.training_figure(a, steps, "t", ids)
    assert "namo_d at lr = 0.01, clamp_c = 0.9, seed 0" in fig.layout.title.text
    assert "namo at lr = 0.001" in fig.layout.title.text
    clamped = F.diagnostics_figure(a, steps, "t", ids)
    assert list(trace(clamped, "namo_d: NAMO-D clamped-column fraction").y)[0] == pytest.approx(0.9)
    sens = F.sensitivity_figure(a, "t")
    assert "namo_d at clamp_c = 0.9" in sens.layout.title.text
    assert "clamp_c = 0.9" in leaderboard_html(a)  # the best value of every swept axis


def test_colour_of_a_label_does_not_depend_on_the_other_labels():
    def analysis_of(labels):
        return analyze(
            pd.DataFrame([trial(o, s, lr, 1.0 + lr + s) for o in labels for s in range(2) for lr in (1e-3, 1e-2)]),
            settings={"resamples": 10},
        )

    two, three = F.colors(analysis_of(["muon", "sgd"])), F.colors(analysis_of(["adamw", "muon", "sgd"]))
    assert two["muon"] == three["muon"] and two["sgd"] == three["sgd"] and len(set(three.values())) == 3
    assert F.colors(analysis_of(["A", "B"])) == {
        "A": F.color_of("A"),
        "B": F.PALETTE[(F.PALETTE.index(F.color_of("A")) + 1) % len(F.PALETTE)],
    }


def test_expected_best_band_stays_above_zero_and_y_axes_name_the_unit(data):
    a, _ = data
    fig = F.expected_best_figure(a, "t")
    bands = [t for t in fig.data if t.fill == "toself"]
    assert bands and min(min(t.y) for t in bands) >= 0  # no loss is negative in these trials
    assert "clipped at 0" in fig.layout.title.text
    assert fig.layout.yaxis.title.text == "expected best final loss (task's units)"


def test_sensitivity_opens_near_the_optimum(data):
    """A diverged at lr 1e-2 (one seed) and 1e-1 (all): counted as l0 = 5.0, which would squash
    the curve; the default y range spans the quartiles of the points where no seed diverged:
    lowest q25 B at 1e-1 (2.0, 2.01, 2.02: 2.005), highest q75 B at 1e-4 (4.0, 4.01, 4.02: 4.015),
    plus 5% of that span on each side."""
    a, _ = data
    fig = F.sensitivity_figure(a, "t")
    pad = 0.05 * (4.015 - 2.005)
    assert list(fig.layout.yaxis.range) == pytest.approx([2.005 - pad, 4.015 + pad])
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["near the optimum", "all points", "log y"]


def test_best_cell_keeps_its_value_visible(data):
    a, _ = data
    fig = F.surface_figure(a, "t", "N", "clamp_c")
    best = trace(fig, "best")
    assert best.marker.symbol.endswith("-open")  # a frame around the cell, not a filled star over it
    assert np.array(fig.data[0].text, dtype=object)[1, 1] == "2.300"


def test_profiles_need_three_tasks():
    def figs_for(n_tasks):
        rows_ = [
            trial(o, s, lr, 1.0 + lr + s + (o == "B"), task=f"t{k}")
            for k in range(n_tasks)
            for o in ("A", "B")
            for s in range(2)
            for lr in (1e-3, 1e-2)
        ]
        return [sec for sec, _, _ in collect_figures(analyze(pd.DataFrame(rows_), settings={"resamples": 10}), None)]

    assert "profiles" not in figs_for(2)
    assert "profiles" in figs_for(3)


def test_parallel_coordinates_and_trial_table_hold_every_trial(data):
    a, steps = data
    fig = F.parallel_figure(a, "t")
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert len(dims["optimizer"].values) == len(a.trials) == 41
    assert set(dims) == {"optimizer", "log10 lr", "clamp_c", "status", "final loss"}  # the unit: in the title
    assert "final loss (task's units)" in fig.layout.title.text
    status = np.array(dims["status"].values)
    assert (status == 1).sum() == a.trials["diverged"].sum()  # diverged marked
    html = render_html(a, collect_figures(a, steps), [])
    table = html[html.index('id="trials-table"') :]
    assert table[: table.index("</table>")].count("<tr>") == 41 + 1  # header + every trial


def test_merged_runs_that_differ_are_flagged(data, tmp_path):
    a, steps = data
    trials = rows()
    trials["steps"] = np.where(trials["seed"] == 0, 100, 300)
    b = analyze(trials, settings={"resamples": 10})
    metas = [
        (Path("runs/a"), {"sweep": "s", "sweep_yaml": "schedule: {kind: constant}\n", "finished_at": "x"}),
        (Path("runs/b"), {"sweep": "s", "sweep_yaml": "schedule: {kind: warmup_cosine}\n", "finished_at": "x"}),
    ]
    html = render_html(b, [], metas)
    # different step budgets: kept apart as two tasks (optbasin/analysis/budgets.py), not pooled
    assert "t [steps=100]" in html and "t [steps=300]" in html and "pooled as one task" not in html
    assert "Merged runs differ" in html and "merged runs differ in schedule" in html
    assert "Merged runs differ" not in render_html(a, [], metas[:1])
    # runs of different tasks (a size ladder: one task per run) are never pooled: no warning
    ladder = trials.assign(sweep=np.where(trials["optimizer"] == "A", "s1", "s2"), task=lambda d: d["sweep"])
    apart = [(Path("runs/a"), {**metas[0][1], "sweep": "s1"}), (Path("runs/b"), {**metas[1][1], "sweep": "s2"})]
    assert "Merged runs differ" not in render_html(analyze(ladder, settings={"resamples": 10}), [], apart)


def test_counts_are_plural_only_when_more_than_one():
    a = analyze(pd.DataFrame([trial("A", 0, 1e-3, 1.0)]), settings={"resamples": 10})
    html = render_html(a, [], [(Path("r"), {"sweep": "x", "finished_at": "y"})])
    assert "&middot; 1 trial<" in html and "1 trials" not in html


def test_history_of_a_search_run():
    """Optuna trials in the order they finished: 3.0, 2.5 (diverged: l0 = 5.0), 2.0, 2.2; the best
    so far is the running minimum of the losses as analysed. The rows carry `origin`, as in a store
    written before the `source` column (sweeps/provenance.py reads them as search / grid)."""
    losses = [3.0, math.nan, 2.0, 2.2]
    rows_ = [
        dict(
            trial("A", 0, lr, loss, "diverged" if math.isnan(loss) else "completed"),
            origin="optuna",
            written_at=float(i),
        )
        for i, (lr, loss) in enumerate(zip((1e-3, 1e-1, 3e-3, 5e-3), losses))
    ]
    rows_.append(dict(trial("B", 0, 1e-3, 2.5), origin="grid", written_at=9.0))
    a = analyze(pd.DataFrame(rows_), settings={"resamples": 10})
    fig = F.history_figure(a, "t")
    assert list(trace(fig, "A trials").y) == pytest.approx([3.0, 5.0, 2.0, 2.2])
    assert list(trace(fig, "A best so far").y) == pytest.approx([3.0, 3.0, 2.0, 2.0])
    assert list(trace(fig, "A trials").marker.symbol) == ["circle", "x", "circle", "circle"]
    assert {t.name for t in fig.data} == {"A trials", "A best so far"}  # B's grid trials are no search
    assert F.history_figure(analyze(rows(), settings={"resamples": 10}), "t") is None


def test_search_run_progress_does_not_claim_the_grid_count():
    """meta.json's trials_planned counts the grid; a search samples its own number of trials."""
    a = analyze(rows(), settings={"resamples": 10})
    grid = {"sweep": "s", "finished_at": None, "trials_planned": 99, "sweep_yaml": "name: s\n"}
    search = dict(grid, sweep_yaml="name: s\nsearch: {method: optuna, trials: 5}\n")
    assert "41 of 99 trials done" in render_html(a, [], [(Path("r"), grid)])
    page = render_html(a, [], [(Path("r"), search)])
    assert "41 trials done" in page and "of 99" not in page


def test_png_has_no_view_buttons(data, tmp_path, monkeypatch):
    import plotly.graph_objects as go

    import optbasin.dashboards.png as png

    written = []
    monkeypatch.setattr(png, "renderer", lambda: "kaleido")
    monkeypatch.setattr(go.Figure, "write_image", lambda self, *a, **k: written.append(self))
    a, _ = data
    fig = F.sensitivity_figure(a, "t")
    png.write_png(fig, tmp_path / "x.png")
    assert len(fig.layout.updatemenus) == 1 and len(written[0].layout.updatemenus) == 0


def test_mechanism_view_holds_other_axes_at_the_best_point():
    """NAMO-D over lr x clamp_c x weight_decay: the clamped-fraction lines (one per c) are drawn at
    the best weight decay (0.1: losses 2.0 vs 3.0 at 0.5), not a zig-zag through both."""
    out = [
        trial("namo_d", s, lr, (2.0 if wd == 0.1 else 3.0) + lr + 0.01 * s, clamp_c=c, weight_decay=wd)
        for s in range(2)
        for lr in (1e-3, 1e-2)
        for c in (0.4, 0.9)
        for wd in (0.1, 0.5)
    ]
    trials = pd.DataFrame(out)
    steps = make_steps(trials, n=20)
    key = trials.set_index("trial_id")
    steps["diag.clamped_frac"] = steps["trial_id"].map(key["hp.clamp_c"] + key["hp.weight_decay"])  # c + wd
    a = analyze(trials, steps, settings={"resamples": 10})
    fig = F.mechanism_figure(a, "t", "diag.clamped_frac", "clamp_c")
    assert list(trace(fig, "namo_d, clamp_c=0.4").y) == pytest.approx([0.5, 0.5])
    assert list(trace(fig, "namo_d, clamp_c=0.9").x) == pytest.approx([1e-3, 1e-2])
    assert "namo_d at weight_decay = 0.1" in fig.layout.title.text


def _parallel_case(many_axes: bool):
    """Two optimizers (one long label) over lr, and with ``many_axes`` five more swept hyperparameters."""
    out = []
    for o in ("muon_adamw_split", "adamw"):
        for s in range(2):
            for lr in (1e-3, 1e-2, 1e-1):
                for wd in (0.0, 0.1):
                    extra = (
                        dict(
                            weight_decay=wd,
                            beta2=0.95 + 0.04 * s,
                            beta1=0.8 + 0.1 * s,
                            nesterov=bool(s),
                            eps=1e-8 if lr < 0.05 else 1e-6,
                        )
                        if many_axes
                        else {}
                    )
                    out.append(trial(o, s, lr, 1 + lr + wd + s * 0.01, task="digits-mlp", **extra))
    return analyze(pd.DataFrame(out), settings={"resamples": 10, "ks": [1], "tunability_budget": 2})


@pytest.mark.parametrize("many_axes", [False, True])
def test_parallel_coordinate_labels_do_not_overlap_at_the_narrowest_card(many_axes):
    """At the report's narrowest figure card (560 px, the .grid CSS rule), with a glyph 0.6 font
    sizes wide: horizontal axis titles fit between their neighbours' axes; vertical ones (+-90
    degrees) get their length above the axes; the first axis's tick labels fit the left margin and
    every other axis's category ticks the gap to the previous axis."""
    fig = F.parallel_figure(_parallel_case(many_axes), "digits-mlp")
    pc, m = fig.data[0], fig.layout.margin
    width = [len(d.label) * 0.6 * (pc.labelfont.size or 12) for d in pc.dimensions]
    gap = (560 - m.l - m.r) / (len(width) - 1)
    angle = pc.labelangle or 0
    if angle == 0:
        assert all((a + b) / 2 <= gap for a, b in zip(width, width[1:])), (width, gap)
    else:
        assert abs(angle) == 90
        title_lines = fig.layout.title.text.count("<br>") + 1
        assert m.t >= max(width) + 28 + 19 * title_lines
    tick_px = 0.6 * (pc.tickfont.size or 12)
    assert m.l >= max(len(t) for t in pc.dimensions[0].ticktext) * tick_px
    for d in pc.dimensions[1:]:
        assert all(len(t) * tick_px <= gap for t in (d.ticktext or ())), (d.label, d.ticktext, gap)
    assert many_axes == (angle != 0)  # 9 axes at ~40 px apart need vertical titles; 4 fit as they are
