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
from optbasin.dashboards.report import collect_figures, leaderboard_html, render_html, verdicts_html

from tests.conftest import result_row as trial


def rows():
    """A: medians 3.2 (seed 2 missing), 2.1, 2.5 (one diverged seed), 5.0 (all diverged) on
    lr 1e-4..1e-1.  B: best at the grid's last lr (basin cut high).  N: NAMO-D lr x clamp_c grid
    with one cell where every seed diverged (lr 1e-1, c 0.4)."""
    out = [trial("A", 0, 1e-4, 3.0), trial("A", 1, 1e-4, 3.4),
           trial("A", 0, 1e-3, 2.0), trial("A", 1, 1e-3, 2.2), trial("A", 2, 1e-3, 2.1),
           trial("A", 0, 1e-2, 2.5), trial("A", 1, 1e-2, math.nan, "diverged"), trial("A", 2, 1e-2, 2.3)]
    out += [trial("A", s, 1e-1, math.nan, "diverged") for s in range(3)]
    for s in range(3):
        for lr, loss in ((1e-4, 4.0), (1e-3, 3.0), (1e-2, 2.5), (1e-1, 2.0)):
            out.append(trial("B", s, lr, loss + 0.01 * s))
    grid = {(1e-3, 0.4): 3.0, (1e-2, 0.4): 2.5, (1e-1, 0.4): None, (1e-3, 0.9): 2.8, (1e-2, 0.9): 2.2, (1e-1, 0.9): 2.6}
    for (lr, c), base in grid.items():
        for s in range(3):
            out.append(trial("N", s, lr, math.nan, "diverged", clamp_c=c) if base is None
                       else trial("N", s, lr, base + 0.1 * s, clamp_c=c))
    return pd.DataFrame(out)


def make_steps(trials: pd.DataFrame, n: int = 1000) -> pd.DataFrame:
    """n logged rows per trial; N logs diag.clamped_frac = c, A logs diag.truncated = 0.25."""
    parts = []
    for _, t in trials.iterrows():
        step = np.arange(1, n + 1)
        parts.append(pd.DataFrame({
            "trial_id": t["trial_id"], "attempt": "a", "step": step, "train_loss": 5.0 - step / n,
            "val_loss": np.where(step % 100 == 0, 4.9 - step / n, np.nan), "lr": t["hp.lr"],
            "diag.clamped_frac": t["hp.clamp_c"] if t["optimizer"] == "N" else np.nan,
            "diag.truncated": 0.25 if t["optimizer"] == "A" else np.nan}))
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
    assert "1 of 3 seed(s) diverged" in div.text[0] and "3 of 3 seed(s) diverged" in div.text[1]
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
    assert max(bar.x) == pytest.approx(1e-1)                      # stops at the grid's last point
    assert list(bar.marker.symbol) == ["line-ns-open", "triangle-right"]
    assert trace(fig, "B basin").line.dash == "dash"
    assert "lower bound" in trace(fig, "B basin").text[0]


def test_failed_seed_is_marked_apart_from_divergence():
    trials = rows()
    hit = (trials["optimizer"] == "N") & (trials["hp.lr"] == 1e-3) & (trials["hp.clamp_c"] == 0.9) & (trials["seed"] == 1)
    trials.loc[hit, ["status", "final_val_loss"]] = ["failed", math.nan]
    a = analyze(trials, settings={"resamples": 20})
    heat = F.surface_figure(a, "t", "N", "clamp_c")
    failed = trace(heat, "failed (some seeds)")
    assert list(failed.x) == ["0.001"] and list(failed.y) == ["0.9"]
    assert "1 of 3 seed(s) failed" in failed.text[0]
    strip = trace(F.sensitivity_figure(a, "t"), "N failed")
    assert list(strip.x) == pytest.approx([1e-3]) and list(strip.y) == ["N"]


def test_heatmap_marks_diverged_cell_and_best(data):
    a, _ = data
    fig = F.surface_figure(a, "t", "N", "clamp_c")
    heat = fig.data[0]
    assert list(heat.x) == ["0.001", "0.01", "0.1"] and list(heat.y) == ["0.4", "0.9"]
    z = np.array(heat.z, dtype=float)
    assert np.isnan(z[0, 2])                                  # c 0.4, lr 0.1: every seed diverged
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
    assert "&#9888; lr:high" in lb           # B's optimum on the grid's edge
    assert "&ge;" in lb                      # B's basin is a lower bound
    v = verdicts_html(a)
    verdict = a.verdicts["verdict"].iloc[0]
    assert f'class="verdict {verdict.replace(" ", "-")}">{verdict}</span>' in v and "a-beats-b" in v


def test_html_is_self_contained_with_plotly_once(data, tmp_path):
    a, steps = data
    path = build_report(a, steps, [(tmp_path, {"sweep": "demo", "command": ["optbasin", "run"], "finished_at": None})],
                        tmp_path / "r.html")
    html = path.read_text()
    assert len(re.findall(r"plotly\.js v\d", html)) == 1
    assert "<script src" not in html and "cdn" not in html.lower().split("<script>")[0]
    figs = collect_figures(a, steps)
    assert html.count('class="fig"') == len(figs) > 5
    assert 'http-equiv="refresh"' not in html
    live = render_html(a, figs, [], live=True)
    assert '<meta http-equiv="refresh" content="10">' in live


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
    assert "No trials recorded yet" in html and "live: reloads every 10 s" in html


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
    (run / "meta.json").write_text(json.dumps({"sweep": "demo", "command": ["optbasin", "run", "demo.yaml"],
                                               "sweep_file": "demo.yaml", "sweep_yaml": sweep_yaml,
                                               "counts": {"completed": 40}, "finished_at": "2026-01-01"}))
    out = write_report([run], tmp_path / "report.html")
    html = out.read_text()
    assert "optbasin report: demo" in html and "a-beats-b" in html and "optbasin run demo.yaml" in html
