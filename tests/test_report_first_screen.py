"""The report's leaderboard: a few columns first, the rest a click away, no all-undefined column."""

from __future__ import annotations

import re

import pandas as pd

from optbasin.analysis import analyze
from optbasin.dashboards.report import render_html
from tests.conftest import result_row


def headers(html: str, tid: str) -> list[str]:
    table = html[html.index(f'id="{tid}"') :]
    head = table[: table.index("</thead>")]
    return re.findall(r"<th[^>]*>([^<]*)</th>", head)


def test_leaderboard_shows_the_deciding_columns_first_and_drops_empty_ones():
    rows = [
        result_row(o, seed, lr, loss + 0.1 * seed)
        for o in ("A", "B")
        for seed in (0, 1)
        for lr, loss in ((1e-3, 2.0), (1e-2, 1.0), (1e-1, 3.0))
    ]
    a = analyze(pd.DataFrame(rows), settings={"resamples": 10, "ks": [5, 20]})  # 6 trials each: k = 20 undefined
    html = render_html(a, [], [])
    first = headers(html, "leaderboard-table")
    assert first[:2] == ["task", "optimizer"] and "best loss" in first and "best lr" in first
    assert len(first) <= 9 and "CP uniform" not in first
    more = headers(html, "leaderboard-more")
    assert more[:2] == ["task", "optimizer"] and "E[best | k=5]" in more
    assert "E[best | k=20]" not in first + more  # undefined for every optimizer: dropped, and said so
    assert "Not shown, undefined for every optimizer (see the notes): E[best | k=20]" in html
    assert html.index('id="leaderboard-more"') > html.index("<details>")


def test_boilerplate_notes_are_said_once():
    """Population members have no time per step: one note for every optimizer, and one note per
    optimizer for the metrics a small budget leaves undefined (not one per metric)."""
    rows = [
        {**result_row(o, seed, lr, loss + 0.1 * seed), "population_size": 3}
        for o in ("A", "B")
        for seed in (0, 1)
        for lr, loss in ((1e-3, 2.0), (1e-2, 1.0), (1e-1, 3.0))
    ]
    notes = analyze(pd.DataFrame(rows), settings={"resamples": 10, "ks": [5, 20], "tunability_budget": 10}).notes
    timing = [n for n in notes if "time_per_step" in n]
    assert len(timing) == 1 and timing[0].startswith("t/A, t/B: time_per_step undefined: no trial timed alone")
    budget = [n for n in notes if "budget k beyond" in n]
    assert len(budget) == 1 and "expected_best_k20" in budget[0] and "tunability_uniform" in budget[0]
    assert budget[0].startswith("t/A, t/B: ")


def test_claim_table_says_what_a_b_and_the_effect_are():
    rows = [
        result_row(o, seed, lr, loss + 0.1 * seed + (0.5 if o == "B" else 0.0))
        for o in ("A", "B")
        for seed in range(3)
        for lr, loss in ((1e-3, 2.0), (1e-2, 1.0), (1e-1, 3.0))
    ]
    claims = [{"name": "a-lower", "metric": "best_loss", "compare": ["A", "B"], "direction": "less", "task": "t"}]
    html = render_html(analyze(pd.DataFrame(rows), claims=claims, settings={"resamples": 10}), [], [])
    assert "A (all seeds)" in html and "B (all seeds)" in html and "effect: per-seed mean" in html
    assert "so it need not equal A &minus; B" in html
