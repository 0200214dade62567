"""`optbasin analyze --markdown`: the tables a write-up pastes carry the analysis' own verdicts and
numbers, one row per claim x task."""

from pathlib import Path

from optbasin.analysis import analyze
from optbasin.analysis.claims import load_claims
from optbasin.analysis.markdown import render_markdown
from optbasin.analysis.synthetic import synthetic_results

CLAIMS = Path(__file__).resolve().parents[1] / "examples" / "claims.yaml"


def _section_rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def test_markdown_tables_carry_the_per_task_verdicts():
    trials, steps = synthetic_results(n_tasks=2, seeds=6)
    a = analyze(trials, steps, claims=load_claims(CLAIMS), settings={"resamples": 100})
    md = render_markdown(a)
    per_task = _section_rows(md, "| claim | task |")
    v = a.verdicts_by_task
    assert len(per_task) == len(v) > 2
    for cells, (_, r) in zip(per_task, v.iterrows()):
        assert cells[0] == r["claim"] and cells[1] == r["task"]
        assert cells[9].strip("*") == r["verdict"]
        assert cells[8] == ("-" if r["p_holm"] != r["p_holm"] else format(r["p_holm"], ".3g"))
        assert cells[7] == r["family"]
    overall = _section_rows(md, "| claim | verdict |")
    assert [c[1].strip("*") for c in overall] == list(a.verdicts["verdict"])
    board = _section_rows(md, "| task | optimizer |")
    assert len(board) == len(a.leaderboard)
    best = a.leaderboard.sort_values(["task", "best_loss"]).iloc[0]
    assert board[0][:2] == [best["task"], best["optimizer"]] and board[0][4] == format(best["best_loss_xfit"], ".4g")
    assert "lr=" in board[0][5]  # the best point spelled out, not JSON
