"""The report's leaderboard: a few columns first, the rest a click away, no all-undefined column."""

from __future__ import annotations

import re

import pandas as pd

from optbasin.analysis import analyze
from optbasin.dashboards.report import render_html
from tests.conftest import result_row


def headers(html: str, tid: str) -> list[str]:
    table = html[html.index(f'id="{tid}"'):]
    head = table[:table.index("</thead>")]
    return re.findall(r"<th[^>]*>([^<]*)</th>", head)


def test_leaderboard_shows_the_deciding_columns_first_and_drops_empty_ones():
    rows = [result_row(o, seed, lr, loss + 0.1 * seed) for o in ("A", "B") for seed in (0, 1)
            for lr, loss in ((1e-3, 2.0), (1e-2, 1.0), (1e-1, 3.0))]
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
