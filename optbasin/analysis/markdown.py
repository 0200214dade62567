"""Markdown view of an Analysis (``optbasin analyze --markdown FILE``): the per-task claim verdicts
and a short leaderboard, as tables to paste into a write-up such as docs/findings.md, so that
every number there comes from the command that printed it."""

from __future__ import annotations

import json

from optbasin.analysis.claims import FINDINGS
from optbasin.analysis.sequential import decisions, overall_states
from optbasin.analysis.specs import MetricSpec
from optbasin.analysis.text import _ci, _display, _num
from optbasin.analysis.trend import EXTRAPOLATION, TREND_FINDINGS, has_ladder


def _row(cells: list) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _point(best_point) -> str:
    """'lr=0.00316, f_star=0' from the leaderboard's JSON text of the best point."""
    try:
        values = json.loads(best_point)
    except (TypeError, ValueError):
        return str(best_point)
    return ", ".join(f"{k}={_num(v, '.3g') if isinstance(v, float) else v}" for k, v in values.items())


def _table(header: list[str], rows: list[list]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _verdicts(a) -> list[str]:
    v = a.verdicts_by_task
    if v.empty:
        return []
    s = a.settings
    rows = []
    for _, r in v.iterrows():
        ratio = r["effect_kind"] == "ratio"
        rows.append(
            [
                r["claim"],
                r["task"],
                f"{r['a']} vs {r['b']}",
                _display(r["metric"]),
                f"{_num(r['value_a'])} / {_num(r['value_b'])}",
                f"{_num(r['effect'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]" + (" (ratio)" if ratio else ""),
                _num(r["margin"], ".3g"),
                r["family"],
                _num(r["p_holm"], ".3g"),
                f"**{r['verdict']}**" if r["verdict"] in FINDINGS else r["verdict"],
                r["reason"] + (f"; caveats: {r['caveats']}" if r["caveats"] else ""),
            ]
        )
    head = FIXED_DESCRIPTIVE if a.adaptive_seeds else ""
    head += (
        f"Per-task verdicts: exact paired sign-flip tests over up to {int(v['seeds'].max())} seeds with the "
        f"margin applied to the data (supported: better by more than the margin; contradicted: worse by more; "
        f"equivalent: within +- the margin, two one-sided tests), one two-sided test per claim and task, Holm "
        f"over the primary claims and apart over the exploratory ones, level {s.level:g}; effect = mean over "
        f"seeds of A - B (A / B for a ratio), {round(100 * s.confidence)}% studentized bootstrap interval; "
        f"p = Holm-adjusted."
    )
    return [
        head,
        "",
        *_table(
            ["claim", "task", "A vs B", "metric", "A / B", "effect [CI]", "margin", "family", "p", "verdict", "why"],
            rows,
        ),
    ]


FIXED_DESCRIPTIVE = (
    "Fixed-design tests, descriptive here: this run added seeds where a claim was open, so these "
    "verdicts (which assume seeds fixed in advance) do not hold their level; the anytime-valid table "
    "above decides. "
)


def _sequential(a) -> list[str]:
    """The anytime-valid states (sequential.py), each claim's overall state then one row per task:
    the decision of a run that added seeds after looking."""
    t = a.sequential
    if not a.adaptive_seeds or t.empty:
        return []
    overall = [
        [r["claim"], f"**{r['state']}**" if r["state"] in FINDINGS else r["state"], r["reason"]]
        for _, r in overall_states(t).iterrows()
    ]
    rows = [
        [
            r["claim"],
            r["task"],
            " vs ".join(r["optimizers"]),
            f"**{r['state']}**" if r["state"] in FINDINGS else r["state"],
            int(r["n_seeds"]),
            _num(r["e_value"], ".3g"),
            r["reason"],
        ]
        for _, r in t.iterrows()
    ]
    return [
        "Anytime-valid verdicts (docs/statistics.md section 8), the decision of this run: it added seeds "
        "where a claim was open. A claim's finding holds overall only when every task reaches it; futile: no "
        "finding is reachable within the seed limit; undefined: no test (the metric is undefined, see why); "
        f"open: a finding is still reachable. Level {a.settings.level:g}.",
        "",
        *_table(["claim", "state", "tasks"], overall),
        "",
        *_table(["claim", "task", "A vs B", "state", "seeds", "e-value", "why"], rows),
    ]


def _overall(a) -> list[str]:
    v = a.verdicts
    if v.empty or a.adaptive_seeds:  # an adaptive run's overall decision is the anytime-valid one
        return []
    rows = [
        [r["claim"], f"**{r['verdict']}**" if r["verdict"] in FINDINGS else r["verdict"], r["reason"]]
        for _, r in v.iterrows()
    ]
    return [
        "Overall (supported, contradicted or equivalent only when every task is):",
        "",
        *_table(["claim", "verdict", "why"], rows),
    ]


def _leaderboard(a) -> list[str]:
    if a.leaderboard.empty:
        return []
    basin = MetricSpec("basin_width", eps=a.settings.eps[0]).column
    rows = []
    for _, r in a.leaderboard.sort_values(["task", "best_loss"]).iterrows():
        width = (
            (">=" if r.get(basin + "_cut") else "")
            + _num(r[basin], ".2f")
            + ("+" if r.get(basin + "_disjoint") is True else "")
        )
        rows.append(
            [
                r["task"],
                r["optimizer"],
                int(r["seeds"]),
                _ci(r, "best_loss"),
                _num(r["best_loss_xfit"]),
                _point(r["best_point"]) + (" (edge)" if r["best_at_edge"] else ""),
                width,
                _num(r.get("lr_sensitivity", float("nan")), ".3g"),
                _num(r["divergence_rate"], ".0%"),
            ]
        )
    return [
        f"Leaderboard: final validation loss, median over seeds; best loss with a "
        f"{round(100 * a.settings.confidence)}% bootstrap interval over seeds; cross-fit: the point chosen on "
        f"the other seeds; basin: decades of lr within {a.settings.eps[0]:g} of the optimizer's own best "
        f"(>= cut by the grid, + several disjoint runs qualify); lr sens: Wortsman.",
        "",
        *_table(
            [
                "task",
                "optimizer",
                "seeds",
                "best loss",
                "cross-fit",
                "best point",
                "basin (dec)",
                "lr sens",
                "diverged",
            ],
            rows,
        ),
    ]


def _trend(a) -> list[str]:
    t = getattr(a, "trend", None)
    if t is None or not has_ladder(a.trend_sizes):
        return []
    s = a.settings
    n_star = f"N = {s.extrapolate_n:.3g}"
    rows = [
        [
            r["claim"],
            r["tasks"] + (f" (N = {r['n_params']})" if r["n_params"] else ""),
            f"{_num(r['slope'], '+.3g')} [{_num(r['ci_low'], '+.3g')}, {_num(r['ci_high'], '+.3g')}]",
            _num(r["p_holm"], ".3g"),
            f"**{r['verdict']}**" if r["verdict"] in TREND_FINDINGS else r["verdict"],
            f"{_num(r['extrapolation_not_measured'], '+.3g')} [{_num(r['extrapolation_not_measured_low'], '+.3g')}, "
            f"{_num(r['extrapolation_not_measured_high'], '+.3g')}]",
            r["reason"] + (f"; caveats: {r['caveats']}" if r["caveats"] else ""),
        ]
        for _, r in t.iterrows()
    ]
    decided = decisions(a)
    sizes = [
        [
            r["claim"],
            r["task"],
            _num(r["n_params"], ".0f"),
            int(r["seeds"]),
            f"{_num(r['effect'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]",
            f"{_num(r['e_effect'])} [{_num(r['e_low'])}, {_num(r['e_high'])}]",
            decided.get((r["claim"], r["task"]), r["verdict"]),
            "yes" if r["used"] else f"no: {r['why_not']}",
        ]
        for _, r in a.trend_sizes.iterrows()
    ]
    return [
        "Trend with model size: per claim, the OLS slope of the per-size mean effects (claimed orientation: "
        "positive = toward the claim; log ratio for a ratio) on log10 N, N the model's parameter count; "
        f"{round(100 * s.confidence)}% t interval, df = fewest seeds - 1; tested against the claim's margin per "
        "decade of N (grows / shrinks: beyond it, stable: within it); p = Holm-adjusted over the claims' "
        f"trend tests (their own family), level {s.level:g}. A straight line through 3-4 sizes is a summary, "
        f"not a law. The last value column is the fitted line at {n_star}: an {EXTRAPOLATION}.",
        "",
        *_table(
            [
                "claim",
                "sizes",
                "slope per decade [CI]",
                "p",
                "trend",
                f"at {n_star} ({EXTRAPOLATION}) [CI]",
                "why",
            ],
            rows,
        ),
        "",
        "Per size: the effect and interval of the per-task verdicts (A - B, A / B for a ratio), and the same "
        "in the claim's direction (the trend's scale: B - A for direction less, a log ratio for a ratio):",
        "",
        *_table(
            [
                "claim",
                "task",
                "N",
                "seeds",
                "effect [CI]",
                "claim's direction [CI]",
                "verdict (anytime-valid)" if decided else "verdict",
                "in the fit",
            ],
            sizes,
        ),
    ]


def render_markdown(a) -> str:
    parts = [_leaderboard(a), _sequential(a), _overall(a), _verdicts(a), _trend(a)]
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"
