"""Where a run added seeds after looking (an adaptive round's "seeds: claim NAME open"), every view
of the verdicts leads with the anytime-valid decisions (analysis/sequential.py) and marks the
fixed-design tests as descriptive; a run whose seeds were fixed keeps the fixed-design verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.analysis.markdown import render_markdown
from optbasin.analysis.sequential import overall_states
from optbasin.dashboards.verdicts import verdicts_section
from tests.conftest import result_row

CLAIMS = [{"name": "a-lower", "metric": "best_loss", "compare": ["A", "B"], "direction": "less"}]


def run(adaptive: bool):
    """A below B by about 0.5 on each of 10 seeds; seeds 4-9 added for the claim when adaptive."""
    rows = []
    for s in range(10):
        why = "seeds: claim a-lower open" if adaptive and s >= 4 else ""
        for opt, best in (("A", 2.0 + 0.01 * s), ("B", 2.5 + 0.02 * s)):
            rows += [
                {**result_row(opt, s, 1e-3, best), "added_for": why},
                {**result_row(opt, s, 1e-2, 3.0), "added_for": why},
            ]
    return analyze(pd.DataFrame(rows), claims=CLAIMS, settings={"resamples": 100})


def test_an_adaptive_runs_markdown_leads_with_the_anytime_valid_decisions():
    a = run(adaptive=True)
    assert a.adaptive_seeds
    md = render_markdown(a)
    assert md.index("Anytime-valid verdicts") < md.index("Fixed-design tests, descriptive here")
    assert "| claim | verdict | why |" not in md  # no fixed-design overall verdict
    row = next(line for line in md.splitlines() if line.startswith("| a-lower | t | A vs B |"))
    assert a.sequential["state"].iloc[0] in row
    assert any("the decisions are the sequential table's" in n for n in a.notes)


def test_a_fixed_runs_markdown_keeps_the_fixed_design_verdicts():
    a = run(adaptive=False)
    assert not a.adaptive_seeds
    md = render_markdown(a)
    assert "Anytime-valid verdicts" not in md and "descriptive here" not in md
    assert "| claim | verdict | why |" in md


@pytest.mark.parametrize("adaptive", [True, False])
def test_the_report_shows_the_decisions_of_an_adaptive_run_only(adaptive):
    html = verdicts_section(run(adaptive))
    assert ('class="verdicts sequential"' in html) == adaptive
    assert ("do not hold their level here" in html) == adaptive


@pytest.mark.parametrize(
    "states, overall",
    [
        (["supported", "supported"], "supported"),
        (["supported", "open"], "open"),
        (["contradicted", "futile"], "mixed"),
        (["futile", "futile"], "futile"),
        (["equivalent", "supported"], "mixed"),
        (["undefined", "futile"], "no finding"),
        (["insufficient seeds", "insufficient seeds"], "insufficient seeds"),
    ],
)
def test_a_claim_holds_overall_only_when_every_task_reaches_it(states, overall):
    table = pd.DataFrame({"claim": "c", "task": [f"t{i}" for i in range(len(states))], "state": states, "n_seeds": 8})
    assert overall_states(table)["state"].tolist() == [overall]
