"""The report's verdicts section (optbasin/dashboards/verdicts.py): per-task verdicts with seed
count, p-value, effect and interval, and a mark when an optimum sits on the grid's edge."""

from __future__ import annotations

import re

import pandas as pd

from optbasin.analysis import analyze
from optbasin.dashboards.verdicts import verdicts_section
from tests.conftest import result_row


def two_tasks():
    """Task t: A below B on each of 7 seeds, both best at lr 1e-3; task u: A above B, both best at
    the grid's last point (lr 1e-2)."""
    rows = []
    for s in range(7):
        rows += [
            result_row("A", s, 1e-3, 2.0, task="t"),
            result_row("A", s, 1e-2, 3.0, task="t"),
            result_row("B", s, 1e-3, 2.5 + 0.01 * s, task="t"),
            result_row("B", s, 1e-2, 3.0, task="t"),
        ]
        rows += [
            result_row("A", s, 1e-3, 3.0, task="u"),
            result_row("A", s, 1e-2, 2.5 + 0.01 * s, task="u"),
            result_row("B", s, 1e-3, 3.0, task="u"),
            result_row("B", s, 1e-2, 2.0, task="u"),
        ]
    claims = [{"name": "a-lower", "metric": "best_loss", "compare": ["A", "B"], "direction": "less"}]
    return analyze(pd.DataFrame(rows), claims=claims, settings={"resamples": 200})


def test_per_task_rows_with_seeds_p_effect_and_edge_mark():
    a = two_tasks()
    html = verdicts_section(a)
    by = a.verdicts_by_task.set_index("task")
    assert a.verdicts["verdict"].iloc[0] == "mixed"
    assert by["verdict"].to_dict() == {"t": "supported", "u": "contradicted"}
    assert '<span class="verdict mixed">mixed</span>' in html
    for task in ("t", "u"):
        r = by.loc[task]
        cells = re.search(rf"<tr><td>&nbsp;&nbsp;{task}</td>(.*?)</tr>", html).group(1)
        assert f'<span class="verdict {r["verdict"]}">{r["verdict"]}</span>' in cells
        assert f"<td>{r['seeds']}</td>" in cells and r["seeds"] == 7
        assert f"<td>{r['p_holm']:.3g}</td>" in cells
        assert f"{r['effect']:.4g}" in cells and f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]" in cells
        assert ("&#9888; A: lr:high; B: lr:high" in cells) == (task == "u")
    # effect on t: mean over seeds of 2.0 - (2.5 + s/100), s = 0..6
    assert by.loc["t", "effect"] == sum(2.0 - (2.5 + 0.01 * s) for s in range(7)) / 7


def test_no_claims_says_how_to_add_them():
    a = analyze(pd.DataFrame([result_row("A", 0, 1e-3, 2.0)]), settings={"resamples": 10})
    assert "No claims declared" in verdicts_section(a)


def test_every_verdict_and_state_has_a_visible_badge():
    """Badges are white text: a verdict or anytime-valid state whose class has no background rule
    would be invisible (open, futile and undefined once were)."""
    from importlib import resources

    from optbasin.analysis.sequential import STATES
    from optbasin.dashboards.verdicts import STYLE, badge

    css = STYLE + resources.files("optbasin.dashboards").joinpath("static/report.css").read_text()
    shown = set(STATES) | {"supported", "contradicted", "equivalent", "inconclusive", "insufficient seeds", "mixed"}
    for verdict in shown:
        slug = re.search(r'class="verdict ([^"]+)"', badge(verdict)).group(1)
        assert re.search(rf"(\.verdict)?\.{re.escape(slug)}\{{background:#[0-9a-f]{{6}}", css), verdict
