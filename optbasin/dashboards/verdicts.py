"""The report's claim verdicts section: each claim's overall verdict, then one row per task with
its verdict, seed count, Holm-adjusted p-value, effect with its studentized bootstrap interval and a mark when an
optimum sits on the grid's edge. The statistics are in optbasin/analysis/claims.py and
docs/statistics.md; this module only renders Analysis.verdicts and Analysis.verdicts_by_task.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from optbasin.analysis.sequential import overall_states
from optbasin.analysis.specs import entry_of_column

STYLE = (
    "<style>.verdict.mixed{background:#6a1b9a}.verdict.equivalent{background:#1565c0}.verdict.insufficient-seeds{background:#b35900}"
    ".verdict.open{background:#00838f}.verdict.futile{background:#757575}.verdict.undefined{background:#5d4037}"
    "tr.claim-head td{background:#f6f7f9;border-top:2px solid #ccc}</style>"
)


def num(x: Any, fmt: str = ".4g") -> str:
    """A number for a table cell; undefined (None, NaN, inf) as a dash."""
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return "&ndash;"
    return format(x, fmt)


def badge(verdict: str) -> str:
    slug = verdict.replace(" ", "-")
    return f'<span class="verdict {html.escape(slug)}">{html.escape(verdict)}</span>'


def _metric(column: str) -> str:
    entry = entry_of_column(column)
    if entry is None:
        return html.escape(column)
    return f'{html.escape(entry.display)} <span class="muted">({html.escape(column)}, {html.escape(entry.unit)})</span>'


def _effect(r: pd.Series) -> str:
    if not np.isfinite(r["effect"]):
        return "&ndash;"
    return f'{num(r["effect"])} <span class="ci">[{num(r["ci_low"])}, {num(r["ci_high"])}]</span>'


def _edges(r: pd.Series) -> str:
    marks = [
        f"{html.escape(o)}: {html.escape(str(edge))}"
        for o, edge in ((r["a"], r["edge_a"]), (r["b"], r["edge_b"]))
        if isinstance(edge, str) and edge
    ]
    return (
        (
            '<span class="warn" title="optimum at the grid\'s edge: a better point may lie outside">&#9888; '
            + "; ".join(marks)
            + "</span>"
        )
        if marks
        else ""
    )


def sequential_section(a) -> str:
    """An adaptive run's decisions (it added seeds where a claim was open): each claim's anytime-valid
    state, then one row per task (analysis/sequential.py); empty for a run whose seeds were fixed."""
    t = a.sequential
    if not a.adaptive_seeds or t.empty:
        return ""
    body = []
    overall = overall_states(t).set_index("claim")
    for claim, rows in t.groupby("claim", sort=False):
        body.append(
            f'<tr class="claim-head"><td><b>{html.escape(claim)}</b></td>'
            f"<td>{badge(overall.loc[claim, 'state'])}</td><td></td><td></td><td></td></tr>"
        )
        for _, r in rows.iterrows():
            body.append(
                f"<tr><td>&nbsp;&nbsp;{html.escape(r['task'])}: {html.escape(' vs '.join(r['optimizers']))}</td>"
                f"<td>{badge(r['state'])}</td><td>{r['n_seeds']}</td><td>{num(r['e_value'], '.3g')}</td>"
                f'<td class="small">{html.escape(str(r["reason"]))}</td></tr>'
            )
    head = "".join(f"<th>{c}</th>" for c in ("claim / task", "decision", "seeds", "e-value", "reason"))
    legend = (
        '<p class="muted">This run added seeds where a claim was still open, so its decisions are those of '
        "the anytime-valid sequential test (docs/statistics.md, section 8): a finding once a claim's e-value "
        f"reaches its threshold, at level {a.settings.level:g} for every look; <i>futile</i>: no finding is "
        "reachable within the seed limit; <i>undefined</i>: no test (the metric is undefined: see the reason); "
        "<i>open</i>: a finding still is reachable. A claim holds overall only when every task "
        "reaches the same finding. The fixed-design tests below assume seeds fixed in advance and do not hold "
        "their level here: read them for the effects and their intervals.</p>"
    )
    table = f'<table class="verdicts sequential"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return table + legend


def verdicts_section(a) -> str:
    """HTML of the verdicts: an adaptive run's anytime-valid decisions first (sequential_section),
    then the fixed-design tests, one header row per claim and one row per task below it."""
    v, by_task = a.verdicts, a.verdicts_by_task
    if v.empty:
        return (
            '<p class="muted">No claims declared (add a <code>claims:</code> list to the sweep file or pass '
            "a claims file).</p>"
        )
    cols = [
        "claim / task",
        "verdict",
        "seeds",
        "p (Holm)",
        "effect: per-seed mean [interval]",
        "A (all seeds)",
        "B (all seeds)",
        "grid edge",
        "reason",
    ]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = []
    for _, c in v.iterrows():
        kind = "A / B" if c["effect_kind"] == "ratio" else "A &minus; B"
        sign = "&gt;" if c["direction"] == "greater" else "&lt;"
        title = (
            f'<b>{html.escape(c["claim"])}</b><div class="small">{_metric(c["metric"])}: {html.escape(c["a"])} vs '
            f"{html.escape(c['b'])}, claimed {kind} {sign} by more than the margin {num(c['margin'], 'g')}"
            f" ({html.escape(c['family'])}{', given ' + html.escape(c['given']) if c['given'] else ''})</div>"
            + (f'<div class="muted">{html.escape(c["description"])}</div>' if c["description"] else "")
        )
        body.append(
            f'<tr class="claim-head"><td>{title}</td><td>{badge(c["verdict"])}</td><td>{c["seeds"]}</td>'
            f"<td>{num(c['p_value'], '.3g')}</td><td>{_effect(c)}</td><td></td><td></td><td></td>"
            f'<td class="small">{html.escape(str(c["reason"]))}</td></tr>'
        )
        rows = by_task[by_task["claim"] == c["claim"]] if not by_task.empty else by_task
        for _, r in rows.iterrows():
            caveats = f'<div class="muted">{html.escape(r["caveats"])}</div>' if r["caveats"] else ""
            body.append(
                f"<tr><td>&nbsp;&nbsp;{html.escape(r['task'])}</td><td>{badge(r['verdict'])}</td>"
                f"<td>{r['seeds']}</td><td>{num(r['p_holm'], '.3g')}</td><td>{_effect(r)}</td>"
                f"<td>{num(r['value_a'])}</td><td>{num(r['value_b'])}</td><td>{_edges(r)}</td>"
                f'<td class="small">{html.escape(str(r["reason"]))}{caveats}</td></tr>'
            )
    s = a.settings
    fam = v.groupby("family")["tests"].max().to_dict()
    legend = (
        f'<p class="muted">Each task: paired sign-flip tests over seeds (exact over all 2^m swaps of A\'s and '
        f"B's results of a seed; Monte Carlo beyond 12 seeds) with the claim's margin applied to the data "
        f"before the swaps: <i>supported</i> = better by more than the margin, <i>contradicted</i> = worse by "
        f"more than the margin, <i>equivalent</i> = within plus or minus the margin (two one-sided tests). One "
        f"two-sided test per claim and task; Holm's correction over the primary claims' "
        f"{int(fam.get('primary', 0))} tests and apart over the exploratory claims' "
        f"{int(fam.get('exploratory', 0))}, level {s.level:g}. "
        f"A finding holds overall only when every task reaches it: the claim's "
        f"p-value is the largest of its tasks'; tasks that disagree give <i>mixed</i>. <i>insufficient seeds</i>: "
        f"no outcome with this many seeds could reach the level. Effect: mean over seeds of A &minus; B (geometric "
        f"mean for a ratio), {round(100 * s.confidence)}% studentized bootstrap interval over seeds ({s.resamples} "
        f"resamples, rng seed {s.seed}); never averaged across tasks. A and B (all seeds): the leaderboard values, "
        f"each computed once from every seed "
        f"(e.g. from the median over seeds of each grid point); the effect averages the differences of the "
        f"metric computed on each seed alone, so it need not equal A &minus; B (a metric of medians is not the "
        f"mean of per-seed metrics; for the best loss the per-seed values are cross-fitted). "
        f"&#9888;: optimum at the grid's edge. Definitions: docs/statistics.md.</p>"
    )
    return (
        f"{STYLE}{sequential_section(a)}"
        f'<table class="verdicts"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{legend}'
    )
