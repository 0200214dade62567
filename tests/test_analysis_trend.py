"""The trend of a claim's effect with model size (optbasin/analysis/trend.py, docs/statistics.md
section 9): its calibration and power by simulation, its arithmetic against a hand computation,
its undefined cases, the parameter count N, and the analysis, markdown and report that show it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from optbasin.analysis import analyze
from optbasin.analysis.markdown import render_markdown
from optbasin.analysis.significance import holm
from optbasin.analysis.synthetic import synthetic_results
from optbasin.analysis.trend import findings, line_at, slope
from optbasin.catalog import builtin
from optbasin.tasks.size import parameter_count

LADDER = np.log10([11712, 52320, 181440])  # gpt-tiny at n_embd 16, 40, 80


def _noise(rng, kind: str, size) -> np.ndarray:
    """Unit-variance noise: normal, heavy-tailed (t with 3 df) or skewed (centred exponential)."""
    if kind == "normal":
        return rng.standard_normal(size)
    if kind == "t3":
        return rng.standard_t(3, size) / math.sqrt(3)
    return rng.exponential(1.0, size) - 1.0


def _simulate(rng, kind: str, true_slope: float, sds=(1.0, 1.5, 2.0), seeds: int = 10, sims: int = 20000):
    """Per-seed effects 0.3 + true_slope x_t + noise on the 3 ladder sizes; the slope test of each."""
    sd = np.asarray(sds)[None, :, None]
    e = 0.3 + true_slope * LADDER[None, :, None] + sd * _noise(rng, kind, (sims, 3, seeds))
    return slope(LADDER, e.mean(-1), e.std(-1, ddof=1), np.full(3, float(seeds)))


@pytest.mark.parametrize("kind", ["normal", "t3", "exp"])
@pytest.mark.parametrize("at", [+1, -1])
def test_calibration_at_the_margin(kind, at):
    """A true slope exactly at +-delta (delta 0.5 sd per decade of N; unequal sds, the largest size's
    twice the smallest's; 10 seeds per size): every finding is false there (not beyond the margin,
    not within it), so any finding is an error; at most level + 3 Monte Carlo standard errors."""
    rng = np.random.default_rng({"normal": 1, "t3": 2, "exp": 3}[kind] + 10 * (at > 0))
    sims, level, delta = 20000, 0.05, 0.5
    f = findings(_simulate(rng, kind, at * delta, sims=sims), delta)
    rate = float(np.mean(f.p <= level))
    print(f"\nslope {at * delta:+g} = margin, {kind} noise, sds 1/1.5/2, 10 seeds: a finding in {rate:.2%} of {sims}")
    assert rate <= level + 3 * math.sqrt(level * (1 - level) / sims)


@pytest.mark.parametrize("kind", ["normal", "t3", "exp"])
def test_null_calibration_without_a_margin(kind):
    """delta = 0: the three findings reduce to the two-sided t test of beta = 0 (p = 2 P(t >= |T|)),
    which rejects a constant effect at most level + 3 Monte Carlo standard errors."""
    rng = np.random.default_rng({"normal": 7, "t3": 8, "exp": 9}[kind])
    sims, level = 20000, 0.05
    c = _simulate(rng, kind, 0.0, sims=sims)
    f = findings(c, 0.0)
    assert np.allclose(f.p, 2 * stats.t.sf(np.abs(c.value / c.se), c.df))
    rate = float(np.mean(f.p <= level))
    print(f"\nno trend, no margin, {kind} noise: rejects {rate:.2%} of {sims}")
    assert rate <= level + 3 * math.sqrt(level * (1 - level) / sims)


@pytest.mark.parametrize("kind", ["normal", "t3", "exp"])
def test_power_beyond_the_margin_with_the_right_sign(kind):
    """A slope of 2 sd per decade of N against a margin of 0.5 (10 seeds, sd 1): "grows" most of
    the time, "shrinks" almost never."""
    rng = np.random.default_rng({"normal": 4, "t3": 5, "exp": 6}[kind])
    f = findings(_simulate(rng, kind, 2.0, sds=(1.0, 1.0, 1.0), sims=4000), 0.5)
    grows = float(np.mean((f.p <= 0.05) & (f.finding == 0)))
    wrong = float(np.mean((f.p <= 0.05) & (f.finding != 0)))
    print(f"\nslope 2 sd/decade, margin 0.5, {kind}: grows {grows:.1%}, another finding {wrong:.2%}")
    assert grows >= 0.8
    assert wrong <= 0.005


@pytest.mark.parametrize("kind", ["normal", "t3", "exp"])
def test_power_of_stable_within_a_wide_margin(kind):
    """No trend, a margin of 1.5 sd per decade (10 seeds, sd 1): "stable with size" most of the time."""
    rng = np.random.default_rng({"normal": 11, "t3": 12, "exp": 13}[kind])
    f = findings(_simulate(rng, kind, 0.0, sds=(1.0, 1.0, 1.0), sims=4000), 1.5)
    stable = float(np.mean((f.p <= 0.05) & (f.finding == 2)))
    print(f"\nno trend, margin 1.5 sd/decade, {kind}: stable {stable:.1%}")
    assert stable >= 0.8
    assert np.mean((f.p <= 0.05) & (f.finding != 2)) <= 0.005


def test_the_three_findings_are_the_shifted_t_tests():
    rng = np.random.default_rng(17)
    x = np.log10([2.0e4, 6.0e4, 3.0e5])
    n = np.array([10.0, 12.0, 9.0])
    m, s = np.array([0.1, 0.3, 0.5]) + rng.normal(0, 0.02, 3), rng.uniform(0.05, 0.2, 3)
    c, delta = slope(x, m, s, n), 0.1
    f = findings(c, delta)
    beta, se = np.polyfit(x, m, 1)[0], float(c.se)
    g = 1 - stats.t.cdf((beta - delta) / se, 8)  # df: the fewest seeds (9) - 1
    sh = stats.t.cdf((beta + delta) / se, 8)
    eq = max(1 - stats.t.cdf((beta + delta) / se, 8), stats.t.cdf((beta - delta) / se, 8))
    assert np.allclose([f.grows, f.shrinks, f.stable], [g, sh, eq])
    assert np.isclose(f.p, min(1.0, 2 * min(g, sh, eq))) and int(f.finding) == int(np.argmin([g, sh, eq]))
    # a slope that is far from 0 but inside the margin: never "grows", whatever the seeds say
    tight = findings(slope(x, x * 0.05, np.full(3, 1e-4), n), delta)  # beta 0.05 per decade, delta 0.1
    assert float(tight.p) < 1e-6 and int(tight.finding) == 2
    # every seed alike (se 0): the sign of beta -+ delta decides, with certainty
    z = findings(slope(x, m, np.zeros(3), n), delta)
    assert float(z.p) == 0.0 and int(z.finding) == (0 if beta > delta else 2 if abs(beta) < delta else 1)


def test_slope_and_interval_are_the_ols_slope_and_the_variance_formula():
    rng = np.random.default_rng(7)
    x = np.log10([2.0e4, 6.0e4, 3.0e5, 1.2e6])
    n = np.array([9.0, 12.0, 10.0, 8.0])
    m, s = rng.normal(0, 1, 4), rng.uniform(0.5, 2.0, 4)
    c = slope(x, m, s, n, confidence=0.9)
    beta = np.polyfit(x, m, 1)[0]
    xc = x - x.mean()
    var = sum((xc[t] / (xc**2).sum()) ** 2 * s[t] ** 2 / n[t] for t in range(4))
    q = stats.t.ppf(0.95, 7)  # df: the fewest seeds (8) - 1
    assert np.isclose(c.value, beta) and np.isclose(c.se, math.sqrt(var))
    assert np.isclose(c.low, beta - q * math.sqrt(var)) and np.isclose(c.high, beta + q * math.sqrt(var))
    assert np.isclose(c.p, 2 * stats.t.sf(abs(beta) / math.sqrt(var), 7))
    # the fitted line at 124e6: the OLS line's value, its variance the same sum with weights 1/T + (x* - xbar) w
    at = line_at(x, m, s, n, math.log10(124e6), 0.9)
    intercept = np.polyfit(x, m, 1)[1]
    assert np.isclose(at.value, intercept + beta * math.log10(124e6))
    c_t = 1 / 4 + (math.log10(124e6) - x.mean()) * xc / (xc**2).sum()
    assert np.isclose(at.se, math.sqrt(float((c_t**2 * s**2 / n).sum())))


def _gpt_tiny_by_hand(n_embd: int, vocab: int = 256, block: int = 64, layers: int = 2) -> int:
    c = n_embd
    per_layer = 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c)
    return vocab * c + block * c + layers * per_layer + 2 * c  # lm_head is tied to the token embedding


def test_parameter_count_of_gpt_tiny_by_hand():
    d = builtin().task("gpt-tiny")
    params = {**d.defaults(), "n_embd": 16, "n_head": 2, "corpus": "source"}
    n, why = parameter_count(d.factory, params)
    assert why == "" and n == 11712 == _gpt_tiny_by_hand(16)
    assert parameter_count(d.factory, {**params, "n_embd": 80, "n_head": 10})[0] == _gpt_tiny_by_hand(80)
    from optbasin.tasks.gpt import GPTTask

    model = GPTTask(**params).build_model(0)  # on the CPU this time: every tensor counted once
    assert sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()) == 11712
    # gpt2-small on the meta device: free, and about GPT-2 small's 124M
    g = builtin().task("gpt2-small")
    assert 123e6 < parameter_count(g.factory, g.defaults())[0] < 125e6


def test_a_task_that_cannot_be_built_has_no_n_and_says_why():
    n, why = parameter_count("no_such_module_here:make", {})
    assert math.isnan(n) and "no_such_module_here" in why
    d = builtin().task("gpt-tiny")
    n, why = parameter_count(d.factory, {**d.defaults(), "n_embd": 16, "n_head": 3})  # 16 % 3 != 0
    assert math.isnan(n) and why


# ---------------------------------------------------------------------------------------------
# End to end: a synthetic study with a ladder of sizes
# ---------------------------------------------------------------------------------------------
SIZES = {  # label: (task entry, params, seeds, shift of muon's loss)
    "gpt-12k": ("gpt-tiny", {"n_embd": 16, "n_head": 2}, 10, 0.0),
    "gpt-52k": ("gpt-tiny", {"n_embd": 40, "n_head": 5}, 10, -0.02),
    "gpt-181k": ("gpt-tiny", {"n_embd": 80, "n_head": 10}, 10, -0.04),
    "gpt-few": ("gpt-tiny", {"n_embd": 24, "n_head": 2}, 2, 0.0),
    "gpt2": ("gpt2-small", {}, 10, 0.0),
    "mine": ("my-own-task", {"width": 3}, 10, 0.0),
}
LADDER_TASKS = ["gpt-12k", "gpt-52k", "gpt-181k"]


def _study() -> pd.DataFrame:
    frames = []
    for i, (label, (entry, params, seeds, shift)) in enumerate(SIZES.items()):
        t, _ = synthetic_results(optimizers=["adamw", "muon"], seeds=seeds, lr_points=6, rng_seed=i)
        defaults = builtin().task(entry).defaults() if entry in builtin().tasks else {}
        t["task"], t["task_name"] = label, entry
        t["task_params"] = json.dumps({**defaults, **params}, sort_keys=True)
        t["trial_id"] = label + t["trial_id"]
        t.loc[t["optimizer"] == "muon", "final_val_loss"] += shift
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def _claim(name: str, tasks: list[str], **kw) -> dict:
    doc = {"name": name, "metric": "best_loss", "tuning_seeds": 2, "margin": 0.01, "task": tasks}
    return {**doc, "compare": ["muon", "adamw"], "direction": "less", **kw}


CLAIMS = [
    _claim("ladder", LADDER_TASKS),
    _claim("ladder-basin", LADDER_TASKS, metric="basin_width", tuning_seeds=None, margin=0.25, direction="greater"),
    _claim("two-sizes", ["gpt-12k", "gpt-52k"]),
    _claim("few-seeds", ["gpt-12k", "gpt-52k", "gpt-few"], metric="basin_width", tuning_seeds=None, margin=0.25),
    _claim("two-families", ["gpt-12k", "gpt-52k", "gpt2"]),
    _claim("no-n", ["gpt-12k", "gpt-52k", "mine"]),
    _claim("swapped", LADDER_TASKS, tuning_seeds=None),
    _claim("ladder-and-mine", [*LADDER_TASKS, "mine"]),
]


@pytest.fixture(scope="module")
def study():
    return analyze(_study(), claims=CLAIMS, settings={"resamples": 200})


def _row(a, claim: str) -> pd.Series:
    return a.trend.set_index("claim").loc[claim]


def test_a_ladder_gives_the_ols_slope_of_the_per_size_effects(study):
    r = _row(study, "ladder")
    sizes = study.trend_sizes[study.trend_sizes["claim"] == "ladder"]
    by_task = study.verdicts_by_task.set_index(["claim", "task"])
    assert list(sizes["task"]) == LADDER_TASKS  # in N order
    assert list(sizes["n_params"]) == [_gpt_tiny_by_hand(16), _gpt_tiny_by_hand(40), _gpt_tiny_by_hand(80)]
    effect = [by_task.loc[("ladder", t), "effect"] for t in LADDER_TASKS]  # muon - adamw, as reported
    assert list(sizes["effect"]) == effect  # the per-task verdicts' numbers, not recomputed
    for (_, s), t in zip(sizes.iterrows(), LADDER_TASKS):  # in the claim's orientation (less: B - A)
        assert (s["e_low"], s["e_high"]) == (
            -by_task.loc[("ladder", t), "ci_high"],
            -by_task.loc[("ladder", t), "ci_low"],
        )
    # direction less: the claim's orientation is adamw - muon, so the slope is that of -effect
    assert np.isclose(r["slope"], np.polyfit(np.log10(sizes["n_params"].astype(float)), -np.array(effect), 1)[0])
    assert r["verdict"] == "grows with size" and "toward the claim" in r["reason"]
    assert r["ci_low"] > 0 and r["df"] == 7  # 10 seeds, 2 of them choose the best point: 8 scored
    assert r["margin"] == 0.01 and r["p_value"] == pytest.approx(2 * r["p_grows"])  # the claim's margin per decade
    # the basin claim: its margin is the grid's resolution (raised from 0.25), the largest over the sizes
    basin = _row(study, "ladder-basin")
    margins = study.trend_sizes.query("claim == 'ladder-basin'")["margin_e"]
    assert basin["margin"] == margins.max() > 0.25
    assert basin["verdict"] == ("stable with size" if basin["p_holm"] <= 0.05 else "inconclusive")
    assert r["extrapolation_n"] == 124e6 and np.isfinite(r["extrapolation_not_measured"])
    assert "extrapolation, not measured" in r["caveats"]
    # the trend tests are their own family: Holm over the defined trend p values
    defined = study.trend["p_value"].notna()
    assert int(defined.sum()) == 3 == int(r["tests"])
    assert np.allclose(study.trend.loc[defined, "p_holm"], holm(study.trend.loc[defined, "p_value"].to_numpy()))


@pytest.mark.parametrize(
    "claim, words",
    [
        ("two-sizes", ["2 task(s)", "3 sizes at least"]),
        ("few-seeds", ["gpt-few has 2 seed(s)", "3 at least"]),
        ("two-families", ["different families", "make_gpt2_small", "make_task"]),
        ("no-n", ["2 size(s)", "mine", "'my-own-task' is not a built-in one"]),
        ("swapped", ["swaps raw results", "tuning_seeds"]),
    ],
)
def test_undefined_trends_are_nan_with_the_reason(study, claim, words):
    r = _row(study, claim)
    assert r["verdict"] == "undefined" and math.isnan(r["slope"]) and math.isnan(r["p_value"])
    assert math.isnan(r["extrapolation_not_measured"])
    for w in words:
        assert w in r["reason"], (w, r["reason"])


def test_a_trend_over_sizes_with_seeds_added_after_looking_says_its_p_is_approximate(study):
    """The trend's t test assumes seeds fixed in advance: the same study with its last seeds marked
    as added for an open claim keeps its numbers but says so on every fitted trend."""
    assert not any("approximate here" in c for c in study.trend["caveats"])
    trials = _study()
    trials["added_for"] = np.where(trials["seed"] >= 4, "seeds: claim ladder open", "")
    a = analyze(trials, claims=CLAIMS, settings={"resamples": 200})
    fitted = a.trend["p_value"].notna()
    assert fitted.sum() == 3 and all("approximate here" in c for c in a.trend.loc[fitted, "caveats"])
    assert np.allclose(a.trend.loc[fitted, "slope"], study.trend.loc[fitted, "slope"])


def test_markdown_and_text_show_the_trend(study):
    md = render_markdown(study)
    assert "Trend with model size" in md
    lines = md.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| claim | sizes |"))
    assert "extrapolation, not measured" in lines[head]
    table = lines[head + 2 : head + 2 + len(study.trend)]
    rows = {c[0]: c for c in ([x.strip() for x in line.strip("|").split(" | ")] for line in table)}
    assert list(rows) == list(study.trend["claim"])
    assert rows["ladder"][4] == "**grows with size**" and rows["swapped"][4] == "undefined"
    assert rows["ladder"][3] == format(_row(study, "ladder")["p_holm"], ".3g")
    text = study.to_text()
    assert "Trend with model size" in text and "ladder: grows with size" in text


def test_the_report_has_the_trend_section_and_figures(study, tmp_path):
    from optbasin.dashboards import figures as F
    from optbasin.dashboards.report import build_report

    html = build_report(study, None, [], tmp_path / "report.html").read_text()
    assert '<section id="trend"' in html and "<h2>Trend with model size</h2>" in html
    assert "extrapolation, not measured" in html and "fig-trend-ladder" in html
    fig = F.trend_figure(study, "ladder")
    assert fig.layout.xaxis.type == "log"
    lines = {t.name: t for t in fig.data if t.mode == "lines" and t.fill is None}
    solid = lines["fitted line (measured sizes)"]
    dashed = next(t for name, t in lines.items() if "extrapolation, not measured" in name)
    assert dashed.line.dash == "dash" and max(dashed.x) == pytest.approx(124e6)
    assert max(solid.x) == pytest.approx(_gpt_tiny_by_hand(80)) and min(solid.x) == pytest.approx(11712)
    assert any("extrapolation, not measured" in (a.text or "") for a in fig.layout.annotations)
    points = next(t for t in fig.data if t.name == "per size: effect [interval]")
    assert list(points.x) == list(study.trend_sizes.query("claim == 'ladder'")["n_params"])
    # a claim with no trend still shows its sizes, marked as not in the fit, and draws no line
    swapped = F.trend_figure(study, "swapped")
    assert [t.name for t in swapped.data if t.mode == "markers"] == ["per size, not in the fit"]
    assert not any(t.mode == "lines" and t.fill is None for t in swapped.data)


def test_the_trend_section_needs_three_tasks_of_one_factory(study):
    from optbasin.analysis.trend import has_ladder

    sizes = study.trend_sizes
    assert has_ladder(sizes[sizes["claim"] == "ladder"])
    # gpt-tiny twice and gpt2-small once, or two sizes and a task with no N: no ladder to show
    assert not has_ladder(sizes[sizes["claim"].isin(["two-families", "no-n", "two-sizes"])])


def test_a_size_without_n_is_left_out_and_the_trend_says_so(study):
    r, ladder = _row(study, "ladder-and-mine"), _row(study, "ladder")
    assert r["tasks"] == ",".join(LADDER_TASKS) and r["sizes"] == 3
    assert np.isclose(r["slope"], ladder["slope"])  # the same three sizes
    assert "left out: mine (no N: task entry 'my-own-task' is not a built-in one" in r["caveats"]
    mine = study.trend_sizes.query("claim == 'ladder-and-mine' and task == 'mine'").iloc[0]
    assert not mine["used"] and math.isnan(mine["n_params"]) and "my-own-task" in mine["n_params_reason"]


def test_a_user_catalog_task_has_its_n_from_the_factory_its_trials_recorded():
    """A trial row keeps its task's factory and the user's catalog directories (sweeps/rows.py),
    so a task from a user catalog gets its N without the catalog being given to the analysis."""
    from optbasin.analysis.trend import task_sizes
    from optbasin.sweeps.rows import trial_row
    from optbasin.sweeps.spec import expand, load_sweep

    spec, catalog = load_sweep(Path(__file__).resolve().parents[1] / "examples" / "user_task" / "sweep.yaml")
    planned = expand(spec, catalog)
    trials = pd.DataFrame([trial_row(t, {"status": "completed"}) for t in planned])
    assert set(trials["task_factory"]) == {"sine_task:make_task"}
    factory, n, why = task_sizes(trials, ["sine"])["sine"]
    hidden = 64  # sine.yaml's default; the MLP 1 -> 64 -> 64 -> 1, weights and biases
    assert (factory, n, why) == ("sine_task:make_task", (1 + 1) * hidden + (hidden + 1) * hidden + hidden + 1, "")
    old = trials.drop(columns=["task_factory", "import_paths"])  # a store from before the columns
    assert math.isnan(task_sizes(old, ["sine"])["sine"][1])
